"""Metrics per value of each categorical feature (slices) with a minimum support, worst first (plain functions).

A model that is better on average can be much worse for one segment; the slice table shows it."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import numpy as np
import pandas as pd
from sklearn import metrics as skm

MIN_SLICE_ROWS = 30  # fewer holdout rows: the slice's metric is noise, it is neither reported nor gated
MISSING = "(missing)"


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
                  y_proba: Optional[np.ndarray], task: str, classes: Optional[list],
                  min_rows: int = MIN_SLICE_ROWS) -> List[Dict[str, Any]]:
    """One entry per (column, value) with at least `min_rows` rows: rows and score, worst score first (slices whose
    score is undefined last)."""
    y_true = np.asarray(y_true)
    out = []
    for column in columns:
        values = frame[column].astype(object).where(frame[column].notna(), MISSING).astype(str).to_numpy()
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
