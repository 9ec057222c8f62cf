"""Histograms two whylogs profiles are compared on, and the Hellinger distance between them.

Numeric columns: the KLL sketches on common bins cut at the reference's quantiles, plus one bin below and one above
the reference range. Categorical columns: shares from the frequent-items sketches, with a remainder bucket for what
a sketch could not list.
"""

from __future__ import annotations

import math
from typing import Dict, List, Sequence, Tuple

import numpy as np

from core.whylogs_env import why  # noqa: F401  (applies the numpy/analytics shims before whylogs.core)
from whylogs.core.configs import FrequentItemsErrorType, SummaryConfig
from whylogs.core.view.column_profile_view import ColumnProfileView

NUMERIC = "numeric"
CATEGORICAL = "categorical"
OTHER_BUCKET = "(other)"

# All items with exact bounds, so a category is "unseen" only when the reference list is known to be complete.
_ALL_ITEMS = SummaryConfig(frequent_items_error_type=FrequentItemsErrorType.NO_FALSE_NEGATIVES)


def hellinger(p: Sequence[float], q: Sequence[float]) -> float:
    """Hellinger distance of two discrete distributions on the same bins: 0 identical, 1 disjoint."""
    p_arr, q_arr = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    value = float(np.sqrt(max(0.0, 1.0 - np.sum(np.sqrt(p_arr * q_arr)))))
    return min(1.0, value)


def column_kind(column: ColumnProfileView) -> str:
    """'numeric' when the column holds numbers only, else 'categorical' (strings, booleans, mixed)."""
    types = column.get_metric("types").to_summary_dict()
    numbers = types["integral"] + types["fractional"]
    others = types["string"] + types["boolean"] + types["object"]
    return NUMERIC if numbers > 0 and others == 0 else CATEGORICAL


def numeric_histograms(ref: ColumnProfileView, cur: ColumnProfileView, n_bins: int) -> Tuple[list, list, list]:
    """Reference-quantile bins plus one bin below and one above the reference range, so values the reference
    never reached always count as change. Bins empty on both sides are dropped (they add nothing)."""
    ref_kll = ref.get_metric("distribution").kll.value
    cur_kll = cur.get_metric("distribution").kll.value
    ref_min, ref_max = ref_kll.get_min_value(), ref_kll.get_max_value()
    quantiles = ref_kll.get_quantiles([i / n_bins for i in range(1, n_bins)])
    splits = sorted({ref_min, *quantiles, math.nextafter(ref_max, math.inf)})
    ref_mass = ref_kll.get_pmf(splits)
    cur_mass = cur_kll.get_pmf(splits)
    lo, hi = min(ref_min, cur_kll.get_min_value()), max(ref_max, cur_kll.get_max_value())
    edges = [lo, *splits, hi]
    bins, p, q = [], [], []
    for i, (a, b) in enumerate(zip(ref_mass, cur_mass)):
        if a > 0 or b > 0:
            right = ref_max if i == len(splits) - 1 else edges[i + 1]  # the top reference bin ends at its max
            bins.append([float(edges[i]), float(right)])
            p.append(float(a))
            q.append(float(b))
    return _finite_bins(bins), p, q


def _finite_bins(bins: List[List[float]]) -> List[List[float]]:
    """Bin edges for JSON and plots: infinite values (which the sketches keep) get a slot just past the finite
    range, so the report stays valid JSON and the masses at infinity stay visible."""
    finite = [e for pair in bins for e in pair if math.isfinite(e)]
    if len(finite) == sum(len(pair) for pair in bins):
        return bins
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    pad = 0.05 * (hi - lo) or 1.0

    def clip(e: float) -> float:
        return e if math.isfinite(e) else (lo - pad if e < 0 else hi + pad)

    return [[clip(a), clip(b)] for a, b in bins]


def _category_counts(column: ColumnProfileView) -> Tuple[Dict[str, int], int, bool]:
    """Counts per category from the frequent-items sketch, non-null total, and whether the list is complete."""
    metric = column.get_metric("frequent_items")
    counts = column.get_metric("counts").to_summary_dict()
    total = int(counts["n"] - counts["null"])
    if metric is None:
        return {}, total, False
    items = metric.to_summary_dict(_ALL_ITEMS)["frequent_strings"]
    found = {str(i.value): int(i.est) for i in items}
    complete = all(i.lower == i.upper for i in items) and sum(found.values()) == total
    return found, total, complete


def categorical_histograms(ref: ColumnProfileView, cur: ColumnProfileView) -> Tuple[list, list, list, List[str]]:
    """(categories, reference shares, current shares, unseen categories); reference order, new categories last."""
    ref_counts, ref_total, ref_complete = _category_counts(ref)
    cur_counts, cur_total, _ = _category_counts(cur)
    ref_order = sorted(ref_counts, key=lambda k: (-ref_counts[k], k))
    new = sorted((k for k in cur_counts if k not in ref_counts), key=lambda k: (-cur_counts[k], k))
    categories = ref_order + new
    p = [ref_counts.get(k, 0) / max(ref_total, 1) for k in categories]
    q = [cur_counts.get(k, 0) / max(cur_total, 1) for k in categories]
    # Whatever the sketches could not list (high cardinality) is compared as one remainder bucket.
    ref_rest, cur_rest = max(0.0, 1.0 - sum(p)), max(0.0, 1.0 - sum(q))
    if ref_rest > 1e-12 or cur_rest > 1e-12:
        categories.append(OTHER_BUCKET)
        p.append(ref_rest)
        q.append(cur_rest)
    unseen = new if ref_complete else []
    return categories, p, q, unseen


def non_null(column: ColumnProfileView) -> int:
    """Rows of the column that hold a value."""
    counts = column.get_metric("counts").to_summary_dict()
    return int(counts["n"] - counts["null"])
