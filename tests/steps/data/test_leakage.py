"""Possible leakage: features that alone predict the target almost perfectly are named, honest ones are not."""

import numpy as np
import pandas as pd
import pytest

from steps.data.columns import plan_features
from core.frames import normalize_missing
from steps.data.leakage import LeakageFinding, find_leaks, single_feature_scores
from steps.data.sources import load_dataset
from tests.steps.data.messy_tables import HOUSE_LEAK, MESSY_LEAK, house_prices, messy_table


def _leaks(frame, target, task, threshold=0.99):
    plan = plan_features(normalize_missing(frame), target, task, max_null_fraction=0.5)
    return plan, find_leaks(normalize_missing(frame), plan, threshold)


def test_a_status_recorded_after_the_outcome_is_named():
    plan, leaks = _leaks(messy_table(), "Survived", "binary")
    assert [leak.column for leak in leaks] == [MESSY_LEAK]
    assert leaks[0].measure == "ROC AUC" and leaks[0].score >= 0.99
    message = leaks[0].message("Survived")
    assert message.startswith(f"possible leakage: column '{MESSY_LEAK}' alone predicts 'Survived' with holdout "
                              "ROC AUC ")
    assert "(>= validation.leakage_threshold 0.99)" in message and "--drop" in message
    scores = single_feature_scores(normalize_missing(messy_table()), plan)
    assert set(scores) == set(plan.features)  # every feature is scored, the leak only stands out
    assert 0.6 < scores["Sex"][1] < 0.9


def test_a_price_in_another_currency_is_named_for_regression():
    _, leaks = _leaks(house_prices(), "price", "regression")
    assert [(leak.column, leak.measure) for leak in leaks] == [(HOUSE_LEAK, "|correlation|")]
    assert leaks[0].score > 0.999


@pytest.mark.parametrize("source", ["synthetic", "sklearn:breast_cancer", "sklearn:iris", "sklearn:wine",
                                    "sklearn:diabetes"])
def test_strong_honest_features_are_not_named(source):
    loaded = load_dataset(source, n_rows=3000)
    task = "regression" if source.endswith("diabetes") else "binary" if loaded.frame[loaded.target].nunique() == 2 \
        else "multiclass"
    _, leaks = _leaks(loaded.frame, loaded.target, task)
    assert leaks == []


def test_leaks_of_every_shape_are_found():
    rng = np.random.default_rng(5)
    n = 1000
    y = rng.choice(["cat", "dog", "fish"], n)
    frame = pd.DataFrame({
        "species_code": pd.Series(y).map({"cat": 7, "dog": 3, "fish": 11}),  # a number that encodes the classes
        "mislabelled": np.where(rng.random(n) < 0.2, "x", y),  # 20% wrong: strong but not perfect
        "noise": rng.normal(size=n),
        "y": y,
    })
    _, leaks = _leaks(frame, "y", "multiclass")
    assert [leak.column for leak in leaks] == ["species_code"]
    binary = pd.DataFrame({"days_to_cancel": np.where(y == "cat", rng.uniform(0, 30, n), rng.uniform(31, 400, n)),
                           "noise": rng.normal(size=n), "y": (y == "cat").astype(int)})
    assert [leak.column for leak in _leaks(binary, "y", "binary")[1]] == ["days_to_cancel"]


def test_memorised_rare_values_do_not_look_predictive():
    rng = np.random.default_rng(6)
    n = 600
    frame = pd.DataFrame({"batch": [f"B{i}" for i in rng.integers(0, 280, n)], "noise": rng.normal(size=n),
                          "y": rng.integers(0, 2, n)})
    plan = plan_features(frame, "y", "binary")
    assert "batch" in plan.categorical
    assert single_feature_scores(frame, plan)["batch"][1] < 0.7  # scored on held-out rows: no memorising


def test_missing_values_count_against_a_leak():
    rng = np.random.default_rng(7)
    n = 1000
    y = rng.normal(size=n)
    frame = pd.DataFrame({"copy_when_known": np.where(rng.random(n) < 0.4, np.nan, y), "x": rng.normal(size=n),
                          "y": y})
    _, leaks = _leaks(frame, "y", "regression")
    assert leaks == []  # perfect where present, but 40% of the rows cannot be predicted from it
    assert [leak.column for leak in _leaks(frame, "y", "regression", threshold=0.7)[1]] == ["copy_when_known"]


def test_small_tables_are_not_judged_and_results_are_repeatable():
    tiny = pd.DataFrame({"x": [0.0, 1.0] * 20, "y": [0, 1] * 20})
    assert single_feature_scores(tiny, plan_features(tiny, "y", "binary")) == {}
    frame = normalize_missing(messy_table(n=500, seed=3))
    plan = plan_features(frame, "Survived", "binary", max_null_fraction=0.5)
    assert single_feature_scores(frame, plan) == single_feature_scores(frame, plan)
    assert find_leaks(frame, plan, 1.0) == [f for f in find_leaks(frame, plan, 0.99) if f.score >= 1.0]
    assert isinstance(find_leaks(frame, plan, 0.99)[0], LeakageFinding)
