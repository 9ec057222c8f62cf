#!/usr/bin/env python
"""A/B routing on the local backend: what the traffic buckets cost, and requests lost while the split moves.

One champion and one challenger daemon (same HistGradientBoosting pipeline, two versions) behind the local nginx,
measured with wrk at the stable URL (single rows, 8 connections):
1. no test running (every bucket on `serving`);
2. a 10 % split;
3. the split moved every 0.2 s between 10 and 90 % for the whole run (lost = non-2xx answers + socket errors);
4. shadow (every request mirrored to the challenger).
Results are a markdown table on stdout.

    python bench/abtest_routing.py --duration 10
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import machine_note, markdown_table  # noqa: E402

import importlib.util  # noqa: E402

# bench/serving.py's wrk driver and payload helpers (its module name clashes with the project's serving package)
_spec = importlib.util.spec_from_file_location("bench_serving", Path(__file__).resolve().parent / "serving.py")
bench_serving = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_serving)
COLUMNS, rows_of, wrk = bench_serving.COLUMNS, bench_serving.rows_of, bench_serving.wrk

from serving.identity import ModelIdentity  # noqa: E402
from stacks.seldon.local_backend import LocalSeldonBackend  # noqa: E402
from stacks.seldon.spec import ModelDeploymentSpec, TrafficSplit  # noqa: E402


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        sys.exit("wrk not found: run .ci/deps-serving.sh (Debian package 'wrk')")
    from tests.serving.model_factory import make_frame, train_and_save

    work = Path(tempfile.mkdtemp(prefix="bench-abtest-"))
    backend = LocalSeldonBackend(port_range=(27000, 27999), root=work / "seldon-local",
                                 log=lambda m: print(m, file=sys.stderr))
    try:
        for version in ("1", "2"):
            train_and_save(work / version, "hgb", "str", n_rows=3000)

        def spec(version: str) -> ModelDeploymentSpec:
            return ModelDeploymentSpec(name="bench", model=ModelIdentity("bench", version, uri=str(work / version)))

        url = backend.deploy(spec("1")).url
        body = json.dumps({"data": {"names": COLUMNS, "ndarray": rows_of(make_frame(1, seed=11))}})
        wrk(url, body, args.connections, 3)  # warm-up
        results = {"no test (all buckets on serving)": wrk(url, body, args.connections, args.duration)}
        backend.start_challenger(spec("2"), TrafficSplit(challenger_percent=10))
        results["10 % split"] = wrk(url, body, args.connections, args.duration)
        stop = threading.Event()
        moves = [0]

        def move() -> None:
            while not stop.wait(0.2):
                moves[0] += 1
                backend.ingress.variants.split("bench", 90 if moves[0] % 2 else 10)

        mover = threading.Thread(target=move)
        mover.start()
        try:
            results["split moved every 0.2 s (10 <-> 90 %)"] = wrk(url, body, args.connections, args.duration)
        finally:
            stop.set()
            mover.join()
        backend.end_challenger("bench", promote=False)
        backend.start_challenger(spec("2"), TrafficSplit(shadow=True))
        results["shadow (every request mirrored)"] = wrk(url, body, args.connections, args.duration)
        backend.end_challenger("bench", promote=False)
        rows = [[name, f"{r['rps']:,.0f}", f"{r['p50']:.2f}", f"{r['p99']:.2f}", str(int(r["bad"]))]
                for name, r in results.items()]
        print(f"### A/B routing through the local nginx: single rows at {args.connections} connections, "
              f"wrk {args.duration}s each, {moves[0]} split moves\n")
        print(markdown_table(["stable URL", "req/s", "p50 ms", "p99 ms", "lost (non-2xx + socket errors)"], rows))
        print(f"\n- machine: {machine_note()}")
    finally:
        backend.shutdown()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
