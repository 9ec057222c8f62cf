"""Permutation importance of the model's input columns on the holdout (scikit-learn's own), plain functions."""

from __future__ import annotations

from typing import Any, Dict, List

import pandas as pd
from sklearn.inspection import permutation_importance

# The score a permuted column is judged by: the task's primary metric as a scikit-learn scorer.
IMPORTANCE_SCORING = {"binary": "roc_auc", "multiclass": "f1_macro", "regression": "r2"}


def holdout_importance(model: Any, X: pd.DataFrame, y: pd.Series, task: str, *, repeats: int, max_rows: int,
                       seed: int) -> List[Dict[str, Any]]:
    """Mean and std of the drop in the primary score when each input column is shuffled `repeats` times, most
    important first; holdouts over `max_rows` are subsampled (seeded): the cost is columns x repeats predictions.
    The settings are the training config's `evaluation` section."""
    if len(X) < 2 or (task != "regression" and pd.Series(y).nunique() < 2):
        return []  # a score needs two classes (or two rows): no importance rather than a misleading one
    result = permutation_importance(model, X, y, scoring=IMPORTANCE_SCORING[task], n_repeats=repeats,
                                    random_state=seed, max_samples=min(1.0, max_rows / len(X)))
    rows = [{"feature": str(c), "mean": float(m), "std": float(s)}
            for c, m, s in zip(X.columns, result.importances_mean, result.importances_std)]
    return sorted(rows, key=lambda r: (-r["mean"], r["feature"]))
