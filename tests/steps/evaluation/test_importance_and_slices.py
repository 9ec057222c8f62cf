"""Permutation importance on the holdout and per-slice scores, worst first."""

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from steps.evaluation.importance import holdout_importance
from steps.evaluation.slices import MISSING, slice_metrics


def test_the_column_the_target_depends_on_is_the_most_important():
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"signal": rng.normal(size=600), "noise": rng.normal(size=600)})
    y = (X["signal"] + 0.3 * rng.normal(size=600) > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    importance = holdout_importance(model, X, y, "binary")
    assert [r["feature"] for r in importance] == ["signal", "noise"]
    assert importance[0]["mean"] > 0.2 and abs(importance[1]["mean"]) < 0.02
    assert importance == holdout_importance(model, X, y, "binary")  # seeded: a rerun gives the same table
    assert holdout_importance(model, X, pd.Series(np.ones(600, dtype=int)), "binary") == []


def test_slices_rank_the_worst_segment_first_and_skip_small_ones():
    segment = ["good"] * 40 + ["bad"] * 40 + ["rare"] * 5 + [None] * 35
    frame = pd.DataFrame({"segment": segment})
    y = np.array([0, 1] * 60)
    p = np.where(y == 1, 0.9, 0.1)
    p[40:80] = 1 - p[40:80]  # the model is wrong on every 'bad' row
    proba = np.column_stack([1 - p, p])
    slices = slice_metrics(frame, ["segment"], y, (p > 0.5).astype(int), proba, "binary", [0, 1], min_rows=30)
    assert [(s["value"], s["rows"]) for s in slices] == [("bad", 40), (MISSING, 35), ("good", 40)]
    assert slices[0]["score"] == 0.0 and slices[-1]["score"] == 1.0


def test_a_slice_without_a_defined_score_is_listed_last():
    frame = pd.DataFrame({"segment": ["one-class"] * 30 + ["mixed"] * 30})
    y = np.array([1] * 30 + [0, 1] * 15)
    proba = np.column_stack([1 - y * 0.8, y * 0.8])
    slices = slice_metrics(frame, ["segment"], y, y, proba, "binary", [0, 1], min_rows=30)
    assert [s["value"] for s in slices] == ["mixed", "one-class"] and slices[1]["score"] is None
    regression = slice_metrics(frame, ["segment"], np.arange(60.0), np.arange(60.0), None, "regression", None, 30)
    assert [s["score"] for s in regression] == [1.0, 1.0]
