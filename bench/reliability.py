"""Reliability figures against a live local deployment (model daemon behind the nginx ingress).

Mode `bad-requests`: thousands of generated hostile or broken requests of many kinds, sent concurrently through the
stable URL; counts the answers per status class and kind. Pass: no 5xx, the same daemon and workers still serve
(the supervisor would replace a crashed one: the daemon's and its workers' pids are compared), and the p99
latency of valid single-row requests afterwards is within 10% of before.

    .venv/bin/python bench/reliability.py bad-requests [--requests 10000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import machine_note, markdown_table  # noqa: E402

from serving.request_guard import MAX_PAYLOAD_BYTES  # noqa: E402

COLUMNS = ["age", "income", "tenure_months", "balance", "job", "region"]
ROW = [42, 50000.0, 12, 100.0, "admin", "north"]
JSON = "application/json"
Request = Tuple[str, str, bytes, Dict[str, str], bool]  # method, path suffix, body, headers, chunked


def _valid(rows: int = 1) -> bytes:
    return json.dumps({"data": {"names": COLUMNS, "ndarray": [ROW] * rows}}).encode()


def _record(**changes) -> dict:
    return {**dict(zip(COLUMNS, ROW)), **changes}


def _post(body: bytes, content_type: str = JSON, chunked: bool = False, suffix: str = "/api/v1.0/predictions"):
    return "POST", suffix, body, {"Content-Type": content_type}, chunked


# kind -> (weight, generator(rng) -> Request). Weights shape the mix; heavy kinds (megabytes each) are rare.
KINDS: Dict[str, Tuple[int, Callable[[random.Random], Request]]] = {
    "deep nesting": (8, lambda r: _post(b"[" * (d := r.randint(1000, 100_000)) + b"]" * d)),
    "deep nesting in a value": (6, lambda r: _post(json.dumps({"jsonData": _record()})[:-1].encode()
                                                   + b', "x": ' + b"[" * (d := r.randint(1000, 50_000))
                                                   + b"]" * d + b"}")),
    "integer too large for a double": (8, lambda r: _post(json.dumps({"jsonData": _record()}).replace(
        "42", "9" * r.randint(310, 4300), 1).encode())),
    "integer over the digit limit": (4, lambda r: _post(b'{"jsonData": {"age": ' + b"7" * r.randint(4301, 20000)
                                                       + b"}}")),
    "infinite numbers": (6, lambda r: _post(json.dumps({"jsonData": _record(
        **{r.choice(COLUMNS[:4]): r.choice([float("inf"), float("-inf")])})}).encode())),
    "too many names": (6, lambda r: _post(json.dumps({"data": {
        "names": [f"f{i}" for i in range(r.randint(7, 200_000))], "ndarray": [[1]]}}).encode())),
    "too many record keys": (4, lambda r: _post(json.dumps({"jsonData": {
        f"k{i}": i for i in range(r.randint(7, 100_000))}}).encode())),
    "duplicate names": (6, lambda r: _post(json.dumps({"data": {
        "names": COLUMNS[:5] + [r.choice(COLUMNS[:5])], "ndarray": [ROW]}}).encode())),
    "unknown or missing names": (6, lambda r: _post(json.dumps({"jsonData": {
        k: v for k, v in _record(**{f"x{r.randint(0, 9)}": 1}).items() if k != r.choice(COLUMNS)}}).encode())),
    "wrong value types": (8, lambda r: _post(json.dumps({"jsonData": _record(**r.choice([
        {r.choice(COLUMNS[:4]): r.choice([True, "x" * r.randint(1, 5000), [1, 2], {"a": 1}])},
        {r.choice(COLUMNS[4:]): r.choice([True, 7, 1.5, [1], {}])}]))}).encode())),
    "ragged rows": (6, lambda r: _post(json.dumps({"data": {"names": COLUMNS, "ndarray": [
        ROW[: r.randint(0, 5)], ROW + [1] * r.randint(1, 1000), "row", 5][r.randint(0, 3)::4]}}).encode())),
    "malformed JSON": (8, lambda r: _post((b := _valid(r.randint(1, 50)))[: r.randint(1, len(b) - 1)])),
    "random bytes / bad UTF-8": (6, lambda r: _post(bytes(r.getrandbits(8) for _ in range(r.randint(1, 4000))))),
    "empty or whitespace body": (4, lambda r: _post(b" \n\t" * r.randint(0, 100))),
    "not a JSON object": (4, lambda r: _post(r.choice([b"[1, 2]", b"null", b"42", b'"s"', b"true", b"[]"]))),
    "unsupported payload kind": (4, lambda r: _post(json.dumps(r.choice([
        {"strData": "x"}, {"binData": "eA=="}, {"data": {"tensor": {"shape": [1, 6], "values": [1] * 6}}},
        {"data": {"ndarray": []}}, {"jsonData": []}, {}])).encode())),
    "wrong Content-Type": (6, lambda r: _post(_valid(), r.choice([
        "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml",
        "application/octet-stream"]))),
    "json in the query string": (3, lambda r: _post(_valid(), suffix="/api/v1.0/predictions?json=%7B%7D")),
    "wrong method": (5, lambda r: (r.choice(["GET", "PUT", "DELETE", "PATCH"]), "/api/v1.0/predictions", _valid(),
                                   {"Content-Type": JSON}, False)),
    "routes this model does not serve": (5, lambda r: _post(_valid(), suffix=r.choice([
        "/api/v1.0/feedback", "/transform-input", "/transform-output", "/route", "/aggregate", "/send-feedback",
        "/nope", "/api/v2/models/x/infer"]))),
    # weight 0: the minimum count only (each is 16 MiB on the wire)
    "oversized (Content-Length)": (0, lambda r: _post(OVERSIZED)),
    "oversized (chunked)": (0, lambda r: _post(OVERSIZED, chunked=True)),
}
OVERSIZED = b" " * (MAX_PAYLOAD_BYTES + 1)
MIN_PER_KIND = 20


def generate(n: int, seed: int) -> List[Tuple[str, int]]:
    """About `n` requests (at least MIN_PER_KIND of each kind), mixed by weight, shuffled: (kind, seed) pairs; each
    request is built just before it is sent (some are megabytes)."""
    rng = random.Random(seed)
    total = sum(w for w, _ in KINDS.values())
    plan = [(kind, max(MIN_PER_KIND, round(n * w / total))) for kind, (w, _) in KINDS.items()]
    out = [(kind, rng.getrandbits(32)) for kind, count in plan for _ in range(count)]
    rng.shuffle(out)
    return out


def build(kind: str, seed: int) -> Request:
    return KINDS[kind][1](random.Random(seed))


class Client:
    """One keep-alive connection per thread; a dropped connection is reopened and counted as a transport error."""

    def __init__(self, base: str):
        self.parts = urllib.parse.urlsplit(base)
        self.local = threading.local()

    def send(self, req: Request) -> Tuple[int, float]:
        method, suffix, body, headers, chunked = req
        conn = getattr(self.local, "conn", None) or http.client.HTTPConnection(
            self.parts.hostname, self.parts.port, timeout=120)
        self.local.conn = conn
        started = time.perf_counter()
        try:
            if chunked:
                chunks = (body[i:i + (1 << 20)] for i in range(0, len(body), 1 << 20))
                conn.request(method, self.parts.path + suffix, body=chunks, headers=headers, encode_chunked=True)
            else:
                conn.request(method, self.parts.path + suffix, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
                self.local.conn = None
            return resp.status, time.perf_counter() - started
        except (OSError, http.client.HTTPException):
            conn.close()
            self.local.conn = None
            return 0, time.perf_counter() - started


def valid_p99(client: Client, n: int, concurrency: int) -> Tuple[float, int]:
    """p99 latency (ms) of `n` valid single-row requests, and how many were not answered 200."""
    req = _post(_valid())
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(lambda _: client.send(req), range(n)))
    latencies = sorted(t for _, t in results)
    return 1000 * latencies[int(0.99 * (len(latencies) - 1))], sum(1 for s, _ in results if s != 200)


def valid_p99_rounds(client: Client, args) -> Tuple[float, List[float], int]:
    """Median over `args.rounds` rounds of the valid p99 (a shared machine's noise moves single rounds a lot)."""
    rounds = [valid_p99(client, args.valid, args.valid_concurrency) for _ in range(args.rounds)]
    p99s = [p for p, _ in rounds]
    return statistics.median(p99s), p99s, sum(bad for _, bad in rounds)


def serving_processes(supervisor: int) -> Tuple[int, List[int]]:
    """The serving daemon under `supervisor` (not its standby) and the daemon's workers."""
    from core.supervise import parent_of, serving_daemon
    from stacks.seldon.local_process import group_members

    daemon = serving_daemon(supervisor)
    return daemon, sorted(p for p in group_members(supervisor) if parent_of(p) == daemon)


def bad_requests(args) -> int:
    from stacks.seldon.local_backend import LocalSeldonBackend
    from serving.identity import ModelIdentity
    from stacks.seldon.spec import ModelDeploymentSpec
    from tests.serving.model_factory import train_and_save

    work = Path(tempfile.mkdtemp(prefix="bench-reliability-"))
    backend = LocalSeldonBackend(root=work / "seldon-local", workers=args.workers, threads=args.threads,
                                 log=lambda m: print(m, file=sys.stderr))
    try:
        train_and_save(work / "model", args.estimator, "str", n_rows=2000)
        info = backend.deploy(ModelDeploymentSpec(name="bench", model=ModelIdentity("bench", "1", uri=str(work / "model"))))
        supervisor = info.details["pid"]
        serving = serving_processes(supervisor)
        client = Client(info.url.rsplit("/api/v1.0/predictions", 1)[0])
        valid_p99(client, 200, args.valid_concurrency)  # warm-up
        before, before_rounds, before_bad = valid_p99_rounds(client, args)
        requests = generate(args.requests, args.seed)
        print(f"sending {len(requests)} bad requests of {len(KINDS)} kinds ...", file=sys.stderr)
        started = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            statuses = list(pool.map(lambda ks: (ks[0], client.send(build(*ks))[0]), requests))
        elapsed = time.perf_counter() - started
        time.sleep(3)  # the same warm-up as before the first measurement
        valid_p99(client, 200, args.valid_concurrency)
        after, after_rounds, after_bad = valid_p99_rounds(client, args)
        final = backend.status("bench")
        # The supervisor would hide a crash (it replaces a dead daemon): the daemon and its workers must be the same
        same_daemon = (final is not None and final.state == "active" and final.details.get("pid") == supervisor
                       and serving_processes(supervisor) == serving)
        p99 = (before, before_rounds, after, after_rounds)
        return report(statuses, elapsed, p99, before_bad + after_bad, same_daemon, args)
    finally:
        backend.delete("bench")
        import shutil

        shutil.rmtree(work, ignore_errors=True)


def report(statuses, elapsed, p99, valid_failures, same_daemon, args) -> int:
    before, before_rounds, after, after_rounds = p99
    per_kind: Dict[str, Counter] = defaultdict(Counter)
    for kind, status in statuses:
        per_kind[kind][f"{status // 100}xx" if status else "no answer"] += 1
    classes = ["2xx", "4xx", "5xx", "no answer"]
    rows = [[kind, sum(c.values()), *(c.get(k, 0) for k in classes),
             ", ".join(sorted({str(s) for k, s in statuses if k == kind}))] for kind, c in per_kind.items()]
    totals = Counter()
    for c in per_kind.values():
        totals.update(c)
    rows.append(["**all**", len(statuses), *(totals.get(k, 0) for k in classes), ""])
    print(f"### Bad requests: {len(statuses)} of {len(per_kind)} kinds through the nginx ingress, "
          f"{args.concurrency} concurrent, {elapsed:.0f} s ({args.estimator}, seed {args.seed})\n")
    print(markdown_table(["kind", "sent", *classes, "statuses"], rows))
    change = 100 * (after - before) / before
    ok = totals.get("5xx", 0) == 0 and totals.get("no answer", 0) == 0 and same_daemon and change <= 10.0
    print(f"\n- 5xx answers: {totals.get('5xx', 0)}; requests without an answer: {totals.get('no answer', 0)}")
    print(f"- the same daemon and workers still serve (none crashed and was replaced): "
          f"{'yes' if same_daemon else 'NO'}")
    print(f"- valid single-row p99, median of {args.rounds} rounds of {args.valid} requests at {args.valid_concurrency} "
          f"concurrent: before {before:.1f} ms, after {after:.1f} ms ({change:+.1f}%, limit +10%); rounds before "
          f"{', '.join(f'{p:.1f}' for p in before_rounds)}, after {', '.join(f'{p:.1f}' for p in after_rounds)}; "
          f"valid requests not answered 200: {valid_failures}")
    print(f"- result: {'PASS' if ok and not valid_failures else 'FAIL'}")
    print(f"- machine: {machine_note()}")
    return 0 if ok and not valid_failures else 1


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    modes = parser.add_subparsers(dest="mode", required=True)
    bad = modes.add_parser("bad-requests", help="generated bad requests against a live endpoint")
    bad.add_argument("--requests", type=int, default=10_000)
    bad.add_argument("--concurrency", type=int, default=8)
    bad.add_argument("--valid", type=int, default=500, help="valid requests per measuring round")
    bad.add_argument("--rounds", type=int, default=5, help="measuring rounds before and after")
    bad.add_argument("--valid-concurrency", type=int, default=2)
    bad.add_argument("--estimator", default="hist_gradient_boosting")
    bad.add_argument("--workers", type=int, default=2)
    bad.add_argument("--threads", type=int, default=2)
    bad.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    sys.exit(bad_requests(args))


if __name__ == "__main__":
    main()
