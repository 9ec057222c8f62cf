"""Drift computation for 100 features against a reference profile, side by side with whylogs' own drift scores.

    .venv/bin/python bench/drift.py [--features 100] [--reference-rows 50000] [--current-rows 5000]

70% numeric features (normal, a third of them shifted), 30% categorical (8 levels, a third re-weighted).
Profiles are built once; only the drift computation is timed (best of --repeat).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from steps.data.profiling import profile_frame  # noqa: E402
from steps.monitoring.drift import compare_column, compute_drift  # noqa: E402


def _frames(n_features: int, n_ref: int, n_cur: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    levels = np.array([f"level_{i}" for i in range(8)], dtype=object)
    ref, cur = {}, {}
    for i in range(n_features):
        shifted = i % 3 == 0
        if i < int(n_features * 0.7):
            ref[f"num_{i}"] = rng.normal(0, 1, n_ref)
            cur[f"num_{i}"] = rng.normal(0.5 if shifted else 0.0, 1, n_cur)
        else:
            base = np.full(8, 1 / 8)
            moved = np.array([0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05]) if shifted else base
            ref[f"cat_{i}"] = levels[rng.choice(8, n_ref, p=base)]
            cur[f"cat_{i}"] = levels[rng.choice(8, n_cur, p=moved)]
    return pd.DataFrame(ref), pd.DataFrame(cur)


def _best(fn, repeat):
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--reference-rows", type=int, default=50_000)
    parser.add_argument("--current-rows", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from whylogs.viz.drift.column_drift_algorithms import calculate_drift_scores

    ref_frame, cur_frame = _frames(args.features, args.reference_rows, args.current_rows)
    reference, current = profile_frame(ref_frame), profile_frame(cur_frame)
    names = list(ref_frame.columns)

    def hellinger_only():
        return [compare_column(reference, current, c, threshold=0.1) for c in names]

    def whylogs_scores():
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return calculate_drift_scores(target_view=current, reference_view=reference, with_thresholds=True)

    rows = []
    t_h, entries = _best(hellinger_only, args.repeat)
    rows.append(("Hellinger gate only (compare_column x N)", t_h))
    t_w, _ = _best(whylogs_scores, args.repeat)
    rows.append(("whylogs calculate_drift_scores (KS / chi-square), the peer", t_w))
    t_full, report = _best(lambda: compute_drift(reference, current), args.repeat)
    rows.append(("compute_drift: Hellinger gate + whylogs evidence (full report)", t_full))
    t_html, _ = _best(report.to_html, 1)
    rows.append(("DriftReport.to_html (table + 24 histograms)", t_html))

    expected = {c for i, c in enumerate(names) if i % 3 == 0}
    found = set(report.drifted_columns)
    print(f"\nDrift for {args.features} features: reference {args.reference_rows:,} rows, current "
          f"{args.current_rows:,} rows, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}\n")
    print("| step | milliseconds | per feature (ms) |")
    print("|---|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds * 1000:.1f} | {seconds * 1000 / args.features:.2f} |")
    print(f"\nShifted features flagged: {len(found & expected)}/{len(expected)}; "
          f"false alarms: {len(found - expected)}/{len(names) - len(expected)}; "
          f"drift share {report.drift_share:.2f}, max Hellinger {report.max_hellinger:.3f}")


if __name__ == "__main__":
    main()
