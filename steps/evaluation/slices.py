"""Metrics per value of each categorical feature and per quantile bin of configured numeric features (slices), with a
minimum support, worst first (plain functions).

A model that is better on average can be much worse for one segment; the slice table shows it."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import numpy as np
import pandas as pd
from sklearn import metrics as skm

MISSING = "(missing)"


class SliceConfigError(ValueError):
    """The configured slice bins name a column that is not a numeric feature."""


def resolve_bins(numeric: List[str], default: int, per_feature: Dict[str, int]) -> Dict[str, int]:
    """Bin count per numeric feature that is sliced: `per_feature` overrides `default`; 0 leaves a feature out."""
    unknown = sorted(set(per_feature) - set(numeric))
    if unknown:
        raise SliceConfigError(f"evaluation.slice_bins: {', '.join(unknown)} not numeric feature(s); numeric "
                               f"features: {', '.join(numeric) or 'none'}")
    bins = {column: per_feature.get(column, default) for column in numeric}
    return {column: n for column, n in bins.items() if n > 0}


def _edge(value: float) -> str:
    return f"{value:.4g}"


def bin_labels(values: pd.Series, n_bins: int) -> np.ndarray:
    """Each row's quantile bin of `values` as text ('[lo, hi)', the last bin closed), MISSING where missing.

    Edges are the quantiles of the values given, so two models scored on the same rows get the same bins."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    labels = np.full(len(numbers), MISSING, dtype=object)
    present = ~np.isnan(numbers)
    if not present.any():
        return labels
    edges = np.unique(np.quantile(numbers[present], np.linspace(0.0, 1.0, n_bins + 1)))
    if len(edges) == 1:
        labels[present] = f"[{_edge(edges[0])}, {_edge(edges[0])}]"
        return labels
    index = np.clip(np.searchsorted(edges, numbers[present], side="right") - 1, 0, len(edges) - 2)
    names = [f"[{_edge(lo)}, {_edge(hi)}{']' if i == len(edges) - 2 else ')'}"
             for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:]))]
    labels[present] = np.asarray(names, dtype=object)[index]
    return labels


def _labels(frame: pd.DataFrame, column: str, n_bins: Optional[int]) -> np.ndarray:
    if n_bins:
        return bin_labels(frame[column], n_bins)
    return frame[column].astype(object).where(frame[column].notna(), MISSING).astype(str).to_numpy()


def slice_score(y_true: np.ndarray, y_pred: np.ndarray, y_proba: Optional[np.ndarray], task: str,
                classes: Optional[list]) -> Optional[float]:
    """The task's primary metric on one slice (None where it is undefined, e.g. one class only)."""
    try:
        if task == "regression":
            return float(skm.r2_score(y_true, y_pred)) if np.var(y_true) > 0 else None
        if task == "binary":
            if y_proba is None or len(np.unique(y_true)) < 2:
                return None
            return float(skm.roc_auc_score(np.asarray(y_true) == classes[1], y_proba[:, 1]))
        return float(skm.f1_score(y_true, y_pred, average="macro", labels=classes))
    except ValueError:
        return None


def slice_metrics(frame: pd.DataFrame, columns: List[str], y_true: Any, y_pred: np.ndarray,
                  y_proba: Optional[np.ndarray], task: str, classes: Optional[list], min_rows: int,
                  bins: Optional[Dict[str, int]] = None) -> List[Dict[str, Any]]:
    """One entry per (column, value) of the categorical `columns` and per (column, quantile bin) of the numeric
    columns in `bins` (column -> bin count), with at least `min_rows` rows: rows and score, worst score first
    (slices whose score is undefined last)."""
    y_true = np.asarray(y_true)
    bins = {c: n for c, n in (bins or {}).items() if c in frame.columns}
    out = []
    for column in [*columns, *(c for c in bins if c not in columns)]:
        values = _labels(frame, column, bins.get(column))
        for value in sorted(set(values)):
            members = values == value
            n = int(members.sum())
            if n < min_rows:
                continue
            score = slice_score(y_true[members], np.asarray(y_pred)[members],
                                None if y_proba is None else y_proba[members], task, classes)
            out.append({"feature": column, "value": value, "rows": n, "score": score})
    return sorted(out, key=lambda s: (s["score"] is None, s["score"] if s["score"] is not None else 0.0,
                                      s["feature"], s["value"]))
