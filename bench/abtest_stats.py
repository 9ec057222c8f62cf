#!/usr/bin/env python
"""A/B test statistics: does the plan deliver what it promises, and what does a verdict cost?

For each metric the plan supports, simulated tests at the planned sample size (steps/abtest/statistics.py):
- A/A (both variants equal): share of tests that declare a winner; should be alpha (0.05);
- A/B with a true difference of exactly the minimum detectable effect: share that find "challenger better";
  should be the planned power (0.8) if the sample-size formula is right (the peer of the formula is the simulation);
- peeking: the A/A share when a winner is declared at the first of 5 looks whose interim interval excludes 0
  (what the fixed horizon prevents), accuracy only;
- the time of one `compare_variants` call at the planned size (best of --repeat).

    .venv/bin/python bench/abtest_stats.py [--sims 400] [--repeat 5]

Data: accuracy: Bernoulli correctness; roc_auc: binormal scores (AUC = Phi(d / sqrt 2)), balanced classes;
rmse/mae: normal residuals (the plan's own assumption for those two, so their check is of the formula's algebra and
of the bootstrap's coverage, not of the normality assumption).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from steps.abtest.statistics import VariantOutcomes, compare_variants, plan_test  # noqa: E402

CASES = {  # metric: (task, champion baseline, minimum detectable effect)
    "accuracy": ("binary", 0.80, 0.05),
    "roc_auc": ("binary", 0.80, 0.05),
    "rmse": ("regression", 1.0, 0.1),
    "mae": ("regression", 0.8, 0.08),
}


def variant(rng, metric: str, value: float, n: int, name: str) -> VariantOutcomes:
    """n labelled rows of a model whose true `metric` is `value`."""
    if metric == "accuracy":
        y = rng.integers(0, 2, n)
        return VariantOutcomes(name, y, np.where(rng.random(n) < value, y, 1 - y))
    if metric == "roc_auc":
        y = rng.integers(0, 2, n)
        score = rng.normal(math.sqrt(2) * stats.norm.ppf(value) * y, 1.0)
        return VariantOutcomes(name, y, (score > 0).astype(int), 1 / (1 + np.exp(-score)))
    sd = value if metric == "rmse" else value * math.sqrt(math.pi / 2)
    y = rng.normal(0, 1, n)
    return VariantOutcomes(name, y, y + rng.normal(0, sd, n))


def simulate(metric: str, sims: int, seed: int = 0) -> dict:
    task, baseline, effect = CASES[metric]
    plan = plan_test(task, metric, baseline, effect)
    n = plan.required_per_variant
    better = baseline - effect if metric in ("rmse", "mae") else baseline + effect
    rng = np.random.default_rng(seed)
    false_positive = detected = 0
    for i in range(sims):
        aa = compare_variants(plan, variant(rng, metric, baseline, n, "a"), variant(rng, metric, baseline, n, "b"),
                              seed=i)
        false_positive += aa.verdict != "no difference"
        ab = compare_variants(plan, variant(rng, metric, baseline, n, "a"), variant(rng, metric, better, n, "b"),
                              seed=i)
        detected += ab.verdict == "challenger better"
    return {"plan": plan, "false_positive": false_positive / sims, "power": detected / sims}


def peeking(sims: int, seed: int = 0) -> tuple[float, float]:
    """A/A, accuracy, 5 looks up to 4/3 of the plan: (fixed horizon, naive interim) shares declaring a winner."""
    task, baseline, effect = CASES["accuracy"]
    plan = plan_test(task, "accuracy", baseline, effect)
    n = plan.required_per_variant
    looks = [n // 9, n // 3, 2 * n // 3, n, 4 * n // 3]
    rng = np.random.default_rng(seed)
    fixed = naive = 0
    for _ in range(sims):
        a, b = variant(rng, "accuracy", baseline, looks[-1], "a"), variant(rng, "accuracy", baseline, looks[-1], "b")
        verdicts = [compare_variants(plan, a.head(k), b.head(k)) for k in looks]
        fixed += any(v.verdict != "no difference" and v.verdict != "not enough data" for v in verdicts)
        naive += any(v.ci_low > 0 or v.ci_high < 0 for v in verdicts)
    return fixed / sims, naive / sims


def timing(metric: str, repeat: int) -> float:
    task, baseline, effect = CASES[metric]
    plan = plan_test(task, metric, baseline, effect)
    rng = np.random.default_rng(1)
    a, b = (variant(rng, metric, baseline, plan.required_per_variant, name) for name in ("a", "b"))
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        compare_variants(plan, a, b)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sims", type=int, default=400, help="simulated tests per metric and scenario")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print("| metric | test | rows per variant (plan) | A/A winner declared (alpha 0.05) | "
          "power at the MDE (planned 0.80) | one verdict, ms |")
    print("|---|---|---:|---:|---:|---:|")
    for metric in CASES:
        result = simulate(metric, args.sims)
        plan = result["plan"]
        print(f"| {metric} {plan.baseline:g} vs {plan.min_detectable_effect:g} | {plan.method} | "
              f"{plan.required_per_variant} | {result['false_positive']:.3f} | {result['power']:.3f} | "
              f"{timing(metric, args.repeat) * 1000:.0f} |", flush=True)
    fixed, naive = peeking(args.sims)
    print(f"\nA/A, accuracy, 5 looks per test: fixed horizon declares a winner in {fixed:.3f} of the tests, a "
          f"winner at the first interim interval excluding 0 in {naive:.3f} ({args.sims} tests)")


if __name__ == "__main__":
    main()
