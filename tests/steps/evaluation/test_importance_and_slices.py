"""Permutation importance on the holdout and per-slice scores (categorical values, numeric quantile bins), worst
first."""

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

import pytest

from core.config import EvaluationSection
from steps.evaluation.importance import holdout_importance
from steps.evaluation.slices import MISSING, SliceConfigError, bin_labels, resolve_bins, slice_metrics

DEFAULTS = EvaluationSection()  # the schema's settings, as training uses them
SETTINGS = {"repeats": DEFAULTS.importance_repeats, "max_rows": DEFAULTS.importance_max_rows,
            "seed": DEFAULTS.importance_seed}


def test_the_column_the_target_depends_on_is_the_most_important():
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"signal": rng.normal(size=600), "noise": rng.normal(size=600)})
    y = (X["signal"] + 0.3 * rng.normal(size=600) > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    importance = holdout_importance(model, X, y, "binary", **SETTINGS)
    assert [r["feature"] for r in importance] == ["signal", "noise"]
    assert importance[0]["mean"] > 0.2 and abs(importance[1]["mean"]) < 0.02
    assert importance == holdout_importance(model, X, y, "binary", **SETTINGS)  # seeded: a rerun, the same table
    assert holdout_importance(model, X, pd.Series(np.ones(600, dtype=int)), "binary", **SETTINGS) == []


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


def test_numeric_features_are_sliced_by_quantile_bins_worst_first():
    rng = np.random.default_rng(2)
    age = pd.Series(rng.integers(18, 90, 400).astype(float))
    age[:10] = np.nan
    y = rng.integers(0, 2, 400)
    p = np.where(y == 1, 0.8, 0.2)
    old = (age >= 70).to_numpy()
    p[old] = 1 - p[old]  # wrong on every customer of 70 and over
    proba = np.column_stack([1 - p, p])
    frame = pd.DataFrame({"age": age, "plan": ["a", "b"] * 200})
    slices = slice_metrics(frame, ["plan"], y, (p > 0.5).astype(int), proba, "binary", [0, 1], 30, {"age": 4})
    binned = [s for s in slices if s["feature"] == "age"]
    assert len(binned) == 4 and sum(s["rows"] for s in binned) == 390  # the 10 missing ages: a slice under 30
    assert slices[0]["feature"] == "age" and slices[0]["value"].endswith("]")  # the oldest bin is the worst
    assert {s["feature"] for s in slices} == {"age", "plan"}
    labels = bin_labels(age, 4)
    assert (labels[:10] == MISSING).all() and len(set(labels[10:])) == 4
    assert list(bin_labels(pd.Series([5.0] * 40), 4)) == ["[5, 5]"] * 40  # one value: one bin


def test_bins_resolve_per_feature_and_refuse_unknown_columns():
    assert resolve_bins(["age", "tenure"], 4, {"tenure": 0}) == {"age": 4}
    assert resolve_bins(["age", "tenure"], 0, {"tenure": 3}) == {"tenure": 3}
    with pytest.raises(SliceConfigError, match="evaluation.slice_bins: plan not numeric feature"):
        resolve_bins(["age"], 4, {"plan": 3})
