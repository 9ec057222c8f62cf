"""Task detection and the feature plan: what each kind of column becomes, and why."""

import numpy as np
import pandas as pd
import pytest

from steps.data.columns import TargetError, detect_task, plan_features, prepare_target
from core.frames import normalize_missing
from steps.data.sources import DataSourceError
from tests.steps.data.messy_tables import (
    HOUSE_DROPPED, HOUSE_LEAK, TITANIC_DROPPED, TITANIC_FEATURES, house_prices, titanic_like,
)


@pytest.mark.parametrize("values, expected", [
    ([0, 1, 1, 0], "binary"),
    (["yes", "no", "no", "yes"], "binary"),
    ([True, False, True, True], "binary"),
    (["a", "b", "c", "a"], "multiclass"),
    ([0, 1, 2, 2, 1], "multiclass"),
    ([0.5, 1.25, 3.0, 7.75], "regression"),
    (list(range(100)), "regression"),  # many integer levels: a count, not classes
])
def test_detect_task(values, expected):
    assert detect_task(pd.Series(values, name="y")) == expected


def test_requested_task_is_checked_against_the_data():
    assert detect_task(pd.Series([0, 1, 2, 3], name="y"), "regression") == "regression"
    assert detect_task(pd.Series([1.0, 2.0, 3.0], name="y"), "auto") == "multiclass"
    cases = [
        (pd.Series(["a", "b", "c"], name="y"), "regression", "'y' is not numeric.*use --task binary or --task multi"),
        (pd.Series([0, 1, 2], name="y"), "binary", "'y' has 3 classes, binary needs exactly 2; use --task multiclass"),
        (pd.Series([0, 1, 0], name="y"), "multiclass", "exactly 2 classes: use --task binary"),
        (pd.Series([0.1, 0.7, 2.5], name="y"), "multiclass", "continuous values.*use --task regression"),
        (pd.Series([0, 1], name="y"), "clustering", "unknown task 'clustering'; expected one of: auto, binary"),
    ]
    for y, requested, message in cases:
        with pytest.raises(TargetError, match=message):
            detect_task(y, requested)


def test_single_class_and_empty_targets_are_errors():
    with pytest.raises(TargetError, match=r"target 'churned' has a single value \(1\) in all 3 labelled rows"):
        detect_task(pd.Series([1, 1, 1, None], name="churned"))
    with pytest.raises(TargetError, match="all 2 rows are missing; pass --target with a labelled column"):
        detect_task(pd.Series([None, None], name="y", dtype=float))
    assert issubclass(TargetError, DataSourceError)  # one `except` in the CLI catches every data error


def _crafted(n=400):
    rng = np.random.default_rng(0)
    words = np.array(["the", "customer", "called", "about", "billing", "and", "was", "unhappy", "with", "service"])
    return pd.DataFrame({
        "row_id": np.arange(n),
        "account": [f"ACC-{i:06d}" for i in rng.permutation(n)],
        "signup": pd.date_range("2025-01-01", periods=n, freq="h"),
        "signup_text": pd.date_range("2025-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
        "comment": [" ".join(rng.choice(words, 9)) for _ in range(n)],
        "country": rng.choice(["fr", "de", "it"], n),
        "is_active": rng.random(n) > 0.5,
        "tier_code": rng.integers(1, 4, n),
        "visits": rng.poisson(20, n),
        "spend": rng.gamma(2.0, 30.0, n),
        "constant": 7,
        "empty": np.nan,
        "label": rng.integers(0, 2, n),
    })


def test_plan_features_on_every_column_kind():
    plan = plan_features(_crafted(), "label", "binary")
    assert plan.numeric == ["visits", "spend"]
    assert plan.categorical == ["country", "is_active", "tier_code"]
    assert plan.features == ["visits", "spend", "country", "is_active", "tier_code"]
    reasons = plan.dropped
    assert set(reasons) == {"row_id", "account", "signup", "signup_text", "comment", "constant", "empty"}
    assert reasons["row_id"] == "identifier: 400 unique values in 400 rows"
    assert reasons["account"].startswith("identifier")
    assert reasons["signup"].startswith("timestamp") and reasons["signup_text"].startswith("timestamp")
    assert reasons["comment"].startswith("free text")
    assert reasons["constant"] == "constant: single value 7"
    assert reasons["empty"] == "all 400 values missing"
    lines = plan.describe()
    assert len(lines) == 13 and "row_id: dropped (identifier: 400 unique values in 400 rows)" in lines
    assert "is_active: categorical feature (boolean)" in lines and "label: target (binary)" in lines
    assert "tier_code: categorical feature (integer code with 3 values)" in lines


def test_plan_is_a_json_round_tripping_report():
    plan = plan_features(_crafted(), "label", "binary")
    again = type(plan).from_json(plan.to_json())
    assert again == plan and "signup_text" in again.to_html()


def test_high_cardinality_strings_are_not_categories():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"code": rng.choice([f"Z{i}" for i in range(900)], 1000), "x": rng.random(1000),
                       "y": rng.integers(0, 2, 1000)})
    plan = plan_features(df, "y", "binary")
    assert plan.dropped["code"].startswith("too many categories")


def test_no_usable_feature_is_an_error_that_says_how_to_go_on():
    with pytest.raises(TargetError, match="no usable feature columns left: id: identifier.*To go on, add columns"):
        plan_features(pd.DataFrame({"id": range(10), "y": [0, 1] * 5}), "y", "binary")
    with pytest.raises(TargetError, match="holds only the target 'y'; add feature columns"):
        plan_features(pd.DataFrame({"y": [0, 1] * 5}), "y", "binary")
    sparse = pd.DataFrame({"id": range(10), "x": [1.0, 2.0] + [np.nan] * 8, "y": [0, 1] * 5})
    with pytest.raises(TargetError, match=r"x: mostly empty: 80\.0% missing .*To go on, raise "
                                          r"validation\.max_null_fraction \(now 0\.5\) in the training config"):
        plan_features(sparse, "y", "binary", max_null_fraction=0.5)


def test_columns_over_the_null_limit_are_dropped_with_the_reason():
    rng = np.random.default_rng(3)
    n = 200
    df = pd.DataFrame({
        "half": np.where(np.arange(n) % 2 == 0, np.nan, rng.random(n)),  # exactly at the limit: kept
        "sparse_number": np.where(np.arange(n) % 10 == 0, rng.random(n), np.nan),
        "sparse_text": np.where(np.arange(n) % 4 == 0, rng.choice(["a", "b"], n), None),
        "all_missing": np.nan,
        "x": rng.random(n),
        "y": rng.integers(0, 2, n),
    })
    plan = plan_features(df, "y", "binary", max_null_fraction=0.5)
    assert plan.numeric == ["half", "x"] and plan.categorical == []
    assert plan.dropped["sparse_number"] == ("mostly empty: 90.0% missing (180 of 200 rows), above "
                                             "validation.max_null_fraction 0.5; raise it to keep the column")
    assert plan.dropped["sparse_text"].startswith("mostly empty: 75.0% missing (150 of 200 rows)")
    assert plan.dropped["all_missing"] == "all 200 values missing"  # said as it is, not "mostly"
    assert "sparse_text: dropped (mostly empty: 75.0% missing" in "\n".join(plan.describe())
    # No limit (the default) keeps them; a higher limit keeps the ones under it.
    assert "sparse_number" in plan_features(df, "y", "binary").features
    assert plan_features(df, "y", "binary", max_null_fraction=0.8).categorical == ["sparse_text"]


def test_a_titanic_like_table_gets_a_decision_per_column():
    frame = normalize_missing(titanic_like())
    plan = plan_features(frame, "Survived", "binary", max_null_fraction=0.5)
    assert set(plan.features) == TITANIC_FEATURES
    assert {c: r.split(":")[0] for c, r in plan.dropped.items()} == TITANIC_DROPPED
    assert plan.dropped["body"].startswith("mostly empty: 91.")


def test_a_regression_table_gets_a_decision_per_column():
    plan = plan_features(normalize_missing(house_prices()), "price", "regression", max_null_fraction=0.5)
    assert {c: r.split(":")[0] for c, r in plan.dropped.items()} == HOUSE_DROPPED
    assert HOUSE_LEAK in plan.numeric  # a leak is warned about, never dropped by the plan


def test_prepare_target_drops_unlabelled_rows():
    df = pd.DataFrame({"x": range(6), "y": [0, 1, None, 1, None, 0]})
    clean, dropped = prepare_target(df, "y", "binary")
    assert dropped == 2 and len(clean) == 4 and clean["y"].notna().all() and list(clean.index) == [0, 1, 2, 3]
    with pytest.raises(TargetError, match="single value"):
        prepare_target(pd.DataFrame({"x": [1, 2, 3], "y": [1, None, 1]}), "y", "binary")


def test_requested_drops_are_recorded_and_unknown_ones_named():
    frame = pd.DataFrame({"a": [1.5, 2.5, 1.5, 2.5] * 5, "leak": [0, 1, 0, 1] * 5, "y": [0, 1, 0, 1] * 5})
    plan = plan_features(frame, "y", "binary", drop_columns=["leak"])
    assert plan.numeric == ["a"] and "leak" not in plan.categorical
    assert plan.dropped["leak"].startswith("dropped on request (--drop")
    with pytest.raises(TargetError, match=r"cannot drop 'nope': not a feature column.*fix --drop"):
        plan_features(frame, "y", "binary", drop_columns=["nope"])
    with pytest.raises(TargetError, match="cannot drop 'y'"):
        plan_features(frame, "y", "binary", drop_columns=["y"])
