"""Task detection and the feature plan: what each kind of column becomes, and why."""

import numpy as np
import pandas as pd
import pytest

from steps.data.columns import TargetError, detect_task, plan_features, prepare_target
from steps.data.sources import DataSourceError


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
        (pd.Series(["a", "b", "c"], name="y"), "regression", "'y' is not numeric"),
        (pd.Series([0, 1, 2], name="y"), "binary", "'y' has 3 classes, binary needs exactly 2"),
        (pd.Series([0, 1, 0], name="y"), "multiclass", "exactly 2 classes: use binary"),
        (pd.Series([0.1, 0.7, 2.5], name="y"), "multiclass", "continuous values"),
        (pd.Series([0, 1], name="y"), "clustering", "unknown task 'clustering'; expected one of: auto, binary"),
    ]
    for y, requested, message in cases:
        with pytest.raises(TargetError, match=message):
            detect_task(y, requested)


def test_single_class_and_empty_targets_are_errors():
    with pytest.raises(TargetError, match=r"target 'churned' has a single value \(1\) in all 3 labelled rows"):
        detect_task(pd.Series([1, 1, 1, None], name="churned"))
    with pytest.raises(TargetError, match="all 2 rows are missing"):
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


def test_no_usable_feature_is_an_error():
    with pytest.raises(TargetError, match="no usable feature columns: id: identifier"):
        plan_features(pd.DataFrame({"id": range(10), "y": [0, 1] * 5}), "y", "binary")


def test_prepare_target_drops_unlabelled_rows():
    df = pd.DataFrame({"x": range(6), "y": [0, 1, None, 1, None, 0]})
    clean, dropped = prepare_target(df, "y", "binary")
    assert dropped == 2 and len(clean) == 4 and clean["y"].notna().all() and list(clean.index) == [0, 1, 2, 3]
    with pytest.raises(TargetError, match="single value"):
        prepare_target(pd.DataFrame({"x": [1, 2, 3], "y": [1, None, 1]}), "y", "binary")
