#!/usr/bin/env python
"""Faults: kill -9 of a serving daemon under steady load.

A model is deployed with the local backend (supervised daemon behind the nginx ingress). Client threads send
single-row predictions to the stable URL at a steady rate; every `--every` seconds the model daemon (the
supervisor's child, the gunicorn master) is killed with SIGKILL. Reported per kill: how long until the daemon
answered its health check again, the CPU time the restarted daemon used to get there (what the restart costs
on an idle machine), and the slowest request around it; overall: requests sent, failed (any answer
but 200, or no answer within the client timeout), and whether any process was left behind after the deployment
was deleted. Targets (issue 10): back within 5 s, at most 0.5% of requests failed.

    python bench/reliability_faults.py --kills 3 --rate 20
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import machine_note, markdown_table  # noqa: E402

from stacks.seldon import local_process  # noqa: E402

ROW = {"age": 42, "income": 50000.0, "tenure_months": 12, "balance": 100.0, "job": "admin", "region": "north"}


def daemon_of(supervisor: int) -> int:
    """The supervisor's own child: the model daemon (gunicorn master)."""
    for pid in local_process.group_members(supervisor):
        with open(f"/proc/{pid}/stat") as handle:
            if handle.read().rsplit(")", 1)[1].split()[1] == str(supervisor):
                return pid
    raise RuntimeError(f"supervisor {supervisor} has no daemon")


class Load:
    """`threads` clients, together about `rate` requests per second; records (sent at, latency, outcome)."""

    def __init__(self, url: str, rate: float, threads: int, timeout: float) -> None:
        self.url, self.interval, self.threads, self.timeout = url, threads / rate, threads, timeout
        self.body = json.dumps({"jsonData": ROW}).encode()
        self.results: List[Tuple[float, float, str]] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def client(self, offset: float) -> None:
        next_at = time.monotonic() + offset
        while not self.stop.is_set():
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at += self.interval
            sent = time.monotonic()
            request = urllib.request.Request(self.url, data=self.body, headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    response.read()
                    outcome = str(response.status)
            except urllib.error.HTTPError as exc:
                outcome = str(exc.code)
            except Exception as exc:  # noqa: BLE001 - refused, reset, timed out: a failed request either way
                outcome = type(exc).__name__
            with self.lock:
                self.results.append((sent, time.monotonic() - sent, outcome))

    def start(self) -> List[threading.Thread]:
        workers = [threading.Thread(target=self.client, args=(i * self.interval / self.threads,), daemon=True)
                   for i in range(self.threads)]
        for worker in workers:
            worker.start()
        return workers


def wait_back(health_url: str, since: float, old: List[int], limit: float = 60.0) -> Optional[float]:
    """Seconds from `since` until every `old` process is gone and `health_url` answers 200 (the new daemon).

    Old workers keep answering from the shared socket for a moment after their master died; they do not count.
    """
    while time.monotonic() - since < limit:
        if not any(_alive(pid) for pid in old):
            try:
                status, _ = local_process.http_get(health_url, timeout=limit)
                if status == 200:
                    return time.monotonic() - since
            except OSError:
                pass
        time.sleep(0.05)
    return None


def cpu_seconds(supervisor: int) -> float:
    """CPU time the daemon's processes have used so far (the restart's cost, whatever the machine's load)."""
    total = 0
    for pid in local_process.group_members(supervisor):
        if pid != supervisor:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--every", type=float, default=20.0, help="seconds between kills (and before the first)")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second, all clients together")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=30.0, help="client timeout per request (s)")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)

    from stacks.seldon.local_backend import LocalSeldonBackend
    from serving.identity import ModelIdentity
    from stacks.seldon.spec import ModelDeploymentSpec
    from tests.serving.model_factory import train_and_save

    work = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    os.environ["MLOPS_STATE_DIR"] = str(work / "state")
    train_and_save(work / "model", "logreg", "str", n_rows=2000)
    backend = LocalSeldonBackend(root=work / "seldon-local", workers=args.workers, threads=2,
                                 log=lambda m: print(m, file=sys.stderr))
    info = backend.deploy(ModelDeploymentSpec(name="faults", model=ModelIdentity("faults", "1", uri=str(work / "model"))))
    supervisor = info.details["pid"]
    health = info.details["direct_url"].replace("/api/v1.0/predictions", "/health/status")
    load = Load(info.url, args.rate, args.threads, args.timeout)
    kills = []
    try:
        threads = load.start()
        for _ in range(args.kills):
            time.sleep(args.every)
            victim = daemon_of(supervisor)
            old = [p for p in local_process.group_members(supervisor) if p != supervisor]
            killed_at = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            back = wait_back(health, killed_at, old)
            kills.append((victim, killed_at, back, cpu_seconds(supervisor)))
            print(f"killed daemon {victim}; back after {back if back is None else round(back, 2)} s", file=sys.stderr)
        time.sleep(args.every)
        load.stop.set()
        for thread in threads:
            thread.join(args.timeout + 5)
    finally:
        backend.delete("faults")
        left = local_process.group_members(supervisor)
        shutil.rmtree(work, ignore_errors=True)
    report(args, load.results, kills, left)


def report(args: argparse.Namespace, results: List[Tuple[float, float, str]],
           kills: List[Tuple[int, float, Optional[float], float]], left: List[int]) -> None:
    failed = [r for r in results if r[2] != "200"]
    rows = []
    for i, (victim, at, back, cpu) in enumerate(kills, 1):
        around = [r for r in results if at - 1 <= r[0] <= at + (back or 60) + 1]
        rows.append([i, victim, f"{back:.2f}" if back is not None else "not back in 60 s", f"{cpu:.2f}",
                     len(around), sum(r[2] != "200" for r in around),
                     f"{max((r[1] for r in around), default=0):.2f}"])
    print(markdown_table(["kill", "daemon pid", "back after (s)", "CPU of the restarted daemon (s)",
                          "requests in the window", "failed", "slowest request (s)"], rows))
    share = 100 * len(failed) / max(1, len(results))
    print()
    print(markdown_table(["requests", "failed", "failed share", "kinds of failure", "processes left after delete"],
                         [[len(results), len(failed), f"{share:.2f}%",
                           ", ".join(sorted({r[2] for r in failed})) or "-", len(left)]]))
    print(f"\n{args.kills} kills every {args.every:g} s, {args.rate:g} req/s from {args.threads} clients, "
          f"{args.workers} gunicorn worker(s); {machine_note()}")


if __name__ == "__main__":
    main()
