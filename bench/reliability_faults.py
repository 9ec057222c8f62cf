#!/usr/bin/env python
"""Faults: kill -9 of a serving daemon under steady load.

A model is deployed with the local backend (supervised daemon behind the nginx ingress, a warm standby beside it).
Client threads send single-row predictions to the stable URL at a steady rate; every `--every` seconds the serving
model daemon (the supervisor's child that is not the standby, the gunicorn master) is killed with SIGKILL.
Reported per kill: how long until a process of the replacement daemon answered the health check (the crashed
daemon's own workers, which keep answering for a moment, do not count), the CPU time the replacement's processes
used between the kill and then, how long until every process of the crashed daemon was gone, and the slowest
request around it; overall: requests sent, failed (any answer but 200, or no answer within the client timeout),
the standby's memory (PSS), and whether any process was left behind after the deployment was deleted.
Targets (issue 10): back within 5 s, at most 0.5% of requests failed.

    python bench/reliability_faults.py --kills 3 --rate 20
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
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
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlparse

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import machine_note, markdown_table  # noqa: E402

from core.supervise import is_standby, serving_daemon  # noqa: E402
from stacks.seldon import local_process  # noqa: E402

ROW = {"age": 42, "income": 50000.0, "tenure_months": 12, "balance": 100.0, "job": "admin", "region": "north"}


class Load:
    """`threads` clients, together about `rate` requests per second; records (sent at, latency, outcome)."""

    def __init__(self, url: str, rate: float, threads: int, timeout: float, keep_alive: bool = False) -> None:
        """With `keep_alive`, every other client reuses one connection (reopened after a failure)."""
        self.url, self.interval, self.threads, self.timeout = url, threads / rate, threads, timeout
        self.keep_alive = keep_alive
        self.body = json.dumps({"jsonData": ROW}).encode()
        self.results: List[Tuple[float, float, str]] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def client(self, offset: float, keep_alive: bool = False) -> None:
        next_at = time.monotonic() + offset
        target = urlparse(self.url)
        connection: Optional[http.client.HTTPConnection] = None
        while not self.stop.is_set():
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at += self.interval
            sent = time.monotonic()
            try:
                if keep_alive:
                    connection = connection or http.client.HTTPConnection(target.hostname, target.port,
                                                                          timeout=self.timeout)
                    connection.request("POST", target.path, body=self.body,
                                       headers={"Content-Type": "application/json"})
                    response = connection.getresponse()
                    response.read()
                    outcome = str(response.status)
                else:
                    request = urllib.request.Request(self.url, data=self.body,
                                                     headers={"Content-Type": "application/json"})
                    with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                        answer.read()
                        outcome = str(answer.status)
            except urllib.error.HTTPError as exc:
                outcome = str(exc.code)
            except Exception as exc:  # noqa: BLE001 - refused, reset, timed out: a failed request either way
                outcome = type(exc).__name__
                if connection is not None:
                    connection.close()
                    connection = None
            with self.lock:
                self.results.append((sent, time.monotonic() - sent, outcome))

    def start(self) -> List[threading.Thread]:
        workers = [threading.Thread(target=self.client, daemon=True,
                                    args=(i * self.interval / self.threads, self.keep_alive and i % 2 == 0))
                   for i in range(self.threads)]
        for worker in workers:
            worker.start()
        return workers

    def finish(self, workers: List[threading.Thread]) -> None:
        """Stops the clients and waits for their last requests."""
        self.stop.set()
        for worker in workers:
            worker.join(self.timeout + 5)


def answered_by(url: str) -> Optional[int]:
    """The pid of the process that answers GET `url` with 200 (looked up while the kept-alive connection is open)."""
    target = urlparse(url)
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
    try:
        connection.request("GET", target.path)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            return None
        mine = connection.sock.getsockname()
        for conn in psutil.net_connections("tcp"):
            if conn.laddr and conn.raddr and conn.laddr.port == target.port and tuple(conn.raddr) == mine:
                return conn.pid
        return None
    except OSError:
        return None
    finally:
        connection.close()


def wait_back(health_url: str, since: float, old: List[int], limit: float = 60.0) -> Optional[float]:
    """Seconds from `since` until a process other than `old` answers `health_url` with 200.

    The crashed daemon's workers keep answering from the shared socket for a moment after their master died;
    they do not count.
    """
    while time.monotonic() - since < limit:
        pid = answered_by(health_url)
        if pid is not None and pid not in old:
            return time.monotonic() - since
        time.sleep(0.02)
    return None


def wait_gone(pids: List[int], since: float, limit: float = 60.0) -> Optional[float]:
    """Seconds from `since` until none of `pids` runs any more."""
    while time.monotonic() - since < limit:
        if not any(_alive(pid) for pid in pids):
            return time.monotonic() - since
        time.sleep(0.05)
    return None


def tree(root: int) -> List[int]:
    """`root` and every process under it."""
    parents = {}
    for pid in psutil.pids():
        with contextlib.suppress(psutil.Error):
            parents[pid] = psutil.Process(pid).ppid()
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def cpu_seconds(pids: List[int]) -> float:
    """CPU time `pids` have used so far."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def pss_mib(pid: int) -> float:
    """Proportional set size of `pid` (pages it shares with other processes counted in part)."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/smaps_rollup") as handle:
        for line in handle:
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    return 0.0


def standby_of(supervisor: int) -> Optional[int]:
    members = local_process.group_members(supervisor)
    return next((p for p in members if is_standby(p)), None)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def load_arguments(parser: argparse.ArgumentParser) -> None:
    """The steady load and the daemon's size, shared by the benches that fault a deployment under load."""
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second, all clients together")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=30.0, help="client timeout per request (s)")
    parser.add_argument("--workers", type=int, default=1)


def bench_backend(prefix: str, versions: List[str], workers: int) -> Tuple[Path, Any]:
    """A fresh run-state folder with a small model per version (`<work>/model-<version>`) and a local backend."""
    from stacks.seldon.local_backend import LocalSeldonBackend
    from tests.serving.model_factory import train_and_save

    work = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["MLOPS_STATE_DIR"] = str(work / "state")
    for version in versions:
        train_and_save(work / f"model-{version}", "logreg", "str", n_rows=2000)
    return work, LocalSeldonBackend(root=work / "seldon-local", workers=workers, threads=2,
                                    log=lambda m: print(m, file=sys.stderr))


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--every", type=float, default=20.0, help="seconds between kills (and before the first)")
    load_arguments(parser)
    args = parser.parse_args(argv)

    from serving.identity import ModelIdentity
    from stacks.seldon.spec import ModelDeploymentSpec

    work, backend = bench_backend("bench-faults-", ["1"], args.workers)
    info = backend.deploy(ModelDeploymentSpec(name="faults", model=ModelIdentity("faults", "1", uri=str(work / "model-1"))))
    supervisor = info.details["pid"]
    health = info.details["direct_url"].replace("/api/v1.0/predictions", "/health/status")
    load = Load(info.url, args.rate, args.threads, args.timeout)
    kills: List[Dict] = []
    standby_memory: List[float] = []
    try:
        threads = load.start()
        for _ in range(args.kills):
            time.sleep(args.every)
            victim = serving_daemon(supervisor)
            standby = standby_of(supervisor)
            if standby:
                standby_memory.append(sum(pss_mib(p) for p in tree(standby)))
            old = tree(victim)
            cpu_before = cpu_seconds(tree(standby)) if standby else 0.0
            killed_at = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            back = wait_back(health, killed_at, old)
            # the replacement: the promoted standby's processes, or the daemon started cold
            cpu = cpu_seconds(tree(standby) if standby else tree(serving_daemon(supervisor))) - cpu_before
            gone = wait_gone(old, killed_at)
            kills.append({"victim": victim, "at": killed_at, "back": back, "gone": gone, "standby": bool(standby),
                          "cpu": cpu})
            print(f"killed daemon {victim}; back after {back if back is None else round(back, 2)} s", file=sys.stderr)
        time.sleep(args.every)
        load.finish(threads)
    finally:
        backend.delete("faults")
        left = local_process.group_members(supervisor)
        shutil.rmtree(work, ignore_errors=True)
    report(args, load.results, kills, left, standby_memory)


def report(args: argparse.Namespace, results: List[Tuple[float, float, str]], kills: List[Dict], left: List[int],
           standby_memory: List[float]) -> None:
    failed = [r for r in results if r[2] != "200"]
    rows = []
    for i, kill in enumerate(kills, 1):
        back, at = kill["back"], kill["at"]
        around = [r for r in results if at - 1 <= r[0] <= at + max(back or 60, kill["gone"] or 60) + 1]
        rows.append([i, kill["victim"], "yes" if kill["standby"] else "no",
                     f"{back:.2f}" if back is not None else "not back in 60 s", f"{kill['cpu']:.2f}",
                     f"{kill['gone']:.2f}" if kill["gone"] is not None else "not in 60 s", len(around), sum(r[2] != "200" for r in around),
                     f"{max((r[1] for r in around), default=0):.2f}"])
    print(markdown_table(["kill", "daemon pid", "standby ready", "back after (s)",
                          "CPU of the replacement until back (s)", "crashed daemon's processes gone after (s)",
                          "requests in the window", "failed", "slowest request (s)"], rows))
    share = 100 * len(failed) / max(1, len(results))
    print()
    memory = f"{max(standby_memory):.0f}" if standby_memory else "-"
    print(markdown_table(["requests", "failed", "failed share", "kinds of failure", "standby memory, PSS of its processes (MiB)",
                          "processes left after delete"],
                         [[len(results), len(failed), f"{share:.2f}%",
                           ", ".join(sorted({r[2] for r in failed})) or "-", memory, len(left)]]))
    print(f"\n{args.kills} kills every {args.every:g} s, {args.rate:g} req/s from {args.threads} clients, "
          f"{args.workers} gunicorn worker(s); {machine_note()}")


if __name__ == "__main__":
    main()
