"""Profiling throughput: one `why.log` call vs `profile_frame` (typed single pass, and chunks across cores).

    .venv/bin/python bench/profiling.py [--rows 1000000] [--repeat 2]

Data: the project's generator, its 10 feature columns (6 numeric with gaps, 4 categorical). All methods run side
by side in one process on the same frame; exact profile figures (counts, types, frequent items) are compared.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from steps.data.generator import CATEGORICAL, NUMERIC, generate_batch  # noqa: E402
from steps.data.profiling import profile_counts, profile_frame  # noqa: E402
from core.whylogs_env import why  # noqa: E402


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the chunk workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _best(fn, repeat: int):
    """Best wall time of `repeat` runs, with the CPU time of that run (wall time alone lies on a busy machine)."""
    best, cpu, result = float("inf"), float("inf"), None
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), _cpu_seconds()
        result = fn()
        wall = time.perf_counter() - start
        if wall < best:
            best, cpu = wall, _cpu_seconds() - start_cpu
    return best, cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2, help="best of N runs per method")
    args = parser.parse_args()

    frame = generate_batch(args.rows, seed=1)[NUMERIC + CATEGORICAL]
    cores = os.cpu_count() or 1
    methods = [
        ("why.log(df) (whylogs 1.6.4, one call)", lambda: why.log(frame).view()),
        ("profile_frame(df, n_jobs=1) typed single pass", lambda: profile_frame(frame, n_jobs=1)),
        (f"profile_frame(df) chunks of 200k on {cores} cores", lambda: profile_frame(frame)),
    ]
    rows = []
    baseline_time, baseline_counts = None, None
    for name, fn in methods:
        seconds, cpu, view = _best(fn, 1 if baseline_time is None else args.repeat)
        counts = profile_counts(view)
        if baseline_time is None:
            baseline_time, baseline_counts = seconds, counts
        rows.append((name, seconds, cpu, args.rows / seconds, baseline_time / seconds, counts == baseline_counts))

    print(f"\nProfiling {args.rows:,} rows x {frame.shape[1]} columns ({len(NUMERIC)} numeric, {len(CATEGORICAL)} "
          f"categorical), {cores} cores, load average {os.getloadavg()[0]:.2f}\n")
    print("| method | wall s | CPU s | rows/s (wall) | speed-up vs why.log | exact figures equal why.log |")
    print("|---|---:|---:|---:|---:|---|")
    for name, seconds, cpu, rate, speedup, same in rows:
        print(f"| {name} | {seconds:.2f} | {cpu:.2f} | {rate:,.0f} | {speedup:.1f}x | {'yes' if same else 'NO'} |")


if __name__ == "__main__":
    main()
