#!/usr/bin/env python
"""Serving: the same trained model served three ways in one run, measured with wrk.

1. the project's Seldon endpoint (local backend: microservice daemon behind the nginx ingress, its stable URL);
2. `mlflow models serve` (MLflow's scoring server, default settings: one uvicorn worker);
3. in-process `predict_proba` on a pandas DataFrame (no HTTP, the ceiling).

Single-row requests at 8 concurrent connections (req/s, p50, p99) and 1000-row batches (rows/s). Targets (issue):
Seldon single-row throughput >= 1.5x MLflow serve's with p99 no worse; batch rows/s >= 50% of in-process predict.
Results are a markdown table on stdout.

    python bench/serving.py --duration 15
    python bench/serving.py --estimator rf --mlflow-workers 2     # also MLflow with one worker per core
    python bench/serving.py --recording                           # only: recording what is served, on vs off

`--recording` measures the cost of profiling served traffic (serving/recorder.py): the same microservice with and
without a record directory, single rows straight to its port (target: >= 90% of the throughput without).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import machine_note, markdown_table  # noqa: E402

from core import process  # noqa: E402
from stacks.seldon import local_process  # noqa: E402

COLUMNS = ["age", "income", "tenure_months", "balance", "job", "region"]


def rows_of(frame) -> List[list]:
    return [[None if v != v else v for v in row] for row in frame[COLUMNS].astype(object).values.tolist()]


def wrk(url: str, body: str, connections: int, duration: int, threads: int = 2) -> Dict[str, float]:
    """Run wrk with a POST body; return req/s, p50/p99 ms and the count of non-2xx answers and socket errors."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                     f"wrk.body = {json.dumps(body)}\n")
    try:
        out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency",
                              "-s", script.name, url], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)

    def latency(pct: str) -> float:
        value, unit = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50": latency("50"),
            "p99": latency("99"), "bad": errors + (int(non2xx.group(1)) if non2xx else 0)}


def in_process(model, frame, seconds: float) -> Dict[str, float]:
    """Single-row latency (sequential calls) and 1000-row batch throughput of predict_proba in this process.

    Single rows run with one OpenMP/BLAS thread (threads only add overhead on one row). Batches run both with one
    thread and with the library defaults (every core); the faster is the baseline, so the comparison is strict.
    On a shared, busy machine OpenMP's spinning threads can make the default setting far slower.
    """
    from threadpoolctl import threadpool_limits

    one = frame.head(1)
    latencies = []
    with threadpool_limits(1):
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            start = time.perf_counter()
            model.predict_proba(one)
            latencies.append((time.perf_counter() - start) * 1e3)
    latencies.sort()
    batch, best = frame.head(1000), 0.0
    for limit in (1, None):
        with threadpool_limits(limit):
            model.predict_proba(batch)
            calls, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds / 2:
                model.predict_proba(batch)
                calls += 1
            best = max(best, calls * 1000 / (time.perf_counter() - start))
    return {"rps": len(latencies) / seconds, "p50": latencies[len(latencies) // 2],
            "p99": latencies[int(len(latencies) * 0.99)], "rows": best}


def start_mlflow(model_dir: Path, port: int, workers: int, log: Path) -> process.Identity:
    venv_bin = str(Path(sys.executable).parent)
    env = {"PATH": f"{venv_bin}:{os.environ.get('PATH', '')}", "MLFLOW_MODELS_WORKERS": str(workers)}
    server = process.spawn([str(Path(venv_bin) / "mlflow"), "models", "serve", "-m", str(model_dir),
                            "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port),
                            "--workers", str(workers)], log, env=env)
    with process.stopped_on_failure(server):
        local_process.wait_healthy(f"http://127.0.0.1:{port}/ping", server, 120.0)
    return server


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--estimator", default="hgb", choices=["logreg", "rf", "hgb"])
    parser.add_argument("--duration", type=int, default=15, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--batch-connections", type=int, default=2)
    parser.add_argument("--workers", type=int, default=None, help="Seldon gunicorn workers (default: one per core)")
    parser.add_argument("--threads", type=int, default=1, help="threads per Seldon worker")
    parser.add_argument("--mlflow-workers", type=int, nargs="*", default=[1],
                        help="MLflow serve worker counts to measure (default: its default, 1)")
    parser.add_argument("--recording", action="store_true", help="only measure recording on vs off")
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        sys.exit("wrk not found: run .ci/deps-serving.sh (Debian package 'wrk')")
    if args.recording:
        return recording_overhead(args)

    from stacks.seldon.local_backend import LocalSeldonBackend
    from serving.identity import ModelIdentity
    from stacks.seldon.spec import ModelDeploymentSpec
    from tests.serving.model_factory import make_frame, train_and_save

    work = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    servers: List[process.Identity] = []
    backend = None
    try:
        print(f"training {args.estimator} ...", file=sys.stderr)
        model, _ = train_and_save(work / "model", args.estimator, "str", n_rows=5000)
        frame = make_frame(1000, seed=11)
        seldon_one = json.dumps({"data": {"names": COLUMNS, "ndarray": rows_of(frame.head(1))}})
        seldon_batch = json.dumps({"data": {"names": COLUMNS, "ndarray": rows_of(frame)}})
        mlflow_one = json.dumps({"dataframe_split": {"columns": COLUMNS, "data": rows_of(frame.head(1))}})
        mlflow_batch = json.dumps({"dataframe_split": {"columns": COLUMNS, "data": rows_of(frame)}})

        results = {}
        print("in-process predict ...", file=sys.stderr)
        results["in-process predict_proba"] = in_process(model, frame, min(args.duration, 10))

        backend = LocalSeldonBackend(root=work / "seldon-local", workers=args.workers, threads=args.threads,
                                     log=lambda m: print(m, file=sys.stderr))
        info = backend.deploy(ModelDeploymentSpec(name="bench", model=ModelIdentity("bench", "1", uri=str(work / "model"))))
        workers = args.workers or os.cpu_count()
        for label, url in ((f"project Seldon, stable URL via nginx ({workers}w x {args.threads}t)", info.url),):
            print(f"wrk {label} ...", file=sys.stderr)
            single = wrk(url, seldon_one, args.connections, args.duration)
            batch = wrk(url, seldon_batch, args.batch_connections, args.duration)
            results[label] = {**single, "rows": batch["rps"] * 1000, "bad": single["bad"] + batch["bad"]}

        for n in args.mlflow_workers:
            port = local_process.pick_ports(1, (26000, 26999), ())[0]
            server = start_mlflow(work / "model", port, n, work / f"mlflow-{n}.log")
            servers.append(server)
            label = f"mlflow models serve ({n} worker{'s' if n > 1 else ''})"
            print(f"wrk {label} ...", file=sys.stderr)
            url = f"http://127.0.0.1:{port}/invocations"
            single = wrk(url, mlflow_one, args.connections, args.duration)
            batch = wrk(url, mlflow_batch, args.batch_connections, args.duration)
            results[label] = {**single, "rows": batch["rps"] * 1000, "bad": single["bad"] + batch["bad"]}
            process.stop(server)

        report(results, args)
    finally:
        for server in servers:
            process.stop(server)
        if backend is not None:
            backend.delete("bench")
        shutil.rmtree(work, ignore_errors=True)


def recording_overhead(args) -> None:
    """Single-row req/s and p99 of one microservice with recording off and on (features, predictions, ids, log)."""
    from serving.environment import ensure_serving_env, microservice_command
    from tests.serving.model_factory import make_frame, train_and_save

    work = Path(tempfile.mkdtemp(prefix="bench-recording-"))
    workers = args.workers or os.cpu_count() or 1
    try:
        python = ensure_serving_env(log=lambda m: print(m, file=sys.stderr))
        train_and_save(work / "model", args.estimator, "str", n_rows=5000)
        body = json.dumps({"data": {"names": COLUMNS, "ndarray": rows_of(make_frame(1, seed=11))}})
        results = {}
        for label, record_dir in (("recording off", ""), ("recording on (every request)", str(work / "live"))):
            http_port, metrics_port = local_process.pick_ports(2, (26000, 26999), ())
            argv, env = microservice_command(python, model_uri=str(work / "model"), model_name="bench",
                                             model_version="1", http_port=http_port, metrics_port=metrics_port,
                                             workers=workers, threads=args.threads, record_dir=record_dir)
            pid = local_process.spawn(argv, env, work / f"{http_port}.log")
            try:
                local_process.wait_healthy(f"http://127.0.0.1:{http_port}/health/status", pid, 120.0)
                url = f"http://127.0.0.1:{http_port}/api/v1.0/predictions"
                wrk(url, body, args.connections, 3)  # warm-up
                print(f"wrk {label} ...", file=sys.stderr)
                results[label] = wrk(url, body, args.connections, args.duration)
            finally:
                local_process.stop_group(pid)
        rows = [[name, f"{r['rps']:,.0f}", f"{r['p50']:.2f}", f"{r['p99']:.2f}", str(int(r["bad"]))]
                for name, r in results.items()]
        print(f"### Recording served traffic: {args.estimator} pipeline, single rows at {args.connections} "
              f"connections, {workers} workers, wrk {args.duration}s each\n")
        print(markdown_table(["Endpoint", "single-row req/s", "p50 ms", "p99 ms", "errors"], rows))
        off, on = results.values()
        print(f"\n- recording on: {100 * on['rps'] / off['rps']:.0f}% of the throughput without (target >= 90%), "
              f"p99 {on['p99']:.1f} ms vs {off['p99']:.1f} ms")
        print(f"- machine: {machine_note()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(results: Dict[str, Dict[str, float]], args) -> None:
    rows = [[name, f"{r['rps']:,.0f}", f"{r['p50']:.2f}", f"{r['p99']:.2f}", f"{r['rows']:,.0f}",
             str(int(r.get("bad", 0)))] for name, r in results.items()]
    print(f"### Serving: {args.estimator} pipeline, single rows at {args.connections} connections, 1000-row batches "
          f"at {args.batch_connections}, wrk {args.duration}s each\n")
    print(markdown_table(["Server", "single-row req/s", "p50 ms", "p99 ms", "batch rows/s", "errors"], rows))
    seldon = next(r for n, r in results.items() if n.startswith("project Seldon"))
    inproc = results["in-process predict_proba"]
    print()
    for name, r in results.items():
        if name.startswith("mlflow"):
            print(f"- Seldon vs {name}: {seldon['rps'] / r['rps']:.2f}x single-row throughput (target >= 1.5x), "
                  f"p99 {seldon['p99']:.1f} ms vs {r['p99']:.1f} ms (target: no worse)")
    print(f"- Seldon batch rows/s: {100 * seldon['rows'] / inproc['rows']:.0f}% of in-process predict (target >= 50%)")
    print("- in-process: single rows are sequential calls with one OpenMP thread (no HTTP, no JSON); batches: the "
          "faster of one thread and every core. MLflow serve runs with its defaults; Seldon workers run with one "
          "OpenMP thread each")
    print(f"- machine: {machine_note()}")


if __name__ == "__main__":
    main()

