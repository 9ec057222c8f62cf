"""Behaviour checks (invariance, direction, minimum metric on named cases) on a model the training factory builds."""

import pytest

from core.config import EvaluationSection
from steps.data.generator import CATEGORICAL, NUMERIC, TARGET, generate_batch
from steps.evaluation.behaviour import BehaviourCheckError, failed, run_checks
from steps.training.model_factory import build_model

FEATURES = NUMERIC + CATEGORICAL


@pytest.fixture(scope="module")
def churn():
    train, holdout = generate_batch(3000, seed=1), generate_batch(1500, seed=2)
    model = build_model(NUMERIC, CATEGORICAL, "binary", "logistic_regression", {}, 0)
    return model.fit(train[FEATURES], train[TARGET]), holdout


def _checks(*declared):
    return EvaluationSection.model_validate({"behaviour_checks": list(declared)}).behaviour_checks


def _run(churn, *declared):
    model, holdout = churn
    return {r["name"]: r for r in run_checks(model, holdout, FEATURES, TARGET, "binary", _checks(*declared))}


def test_direction_checks_follow_the_effect_the_data_has(churn):
    results = _run(churn,
                   {"kind": "direction", "name": "calls-raise-risk", "feature": "support_calls", "delta": 2,
                    "expect": "increase"},
                   {"kind": "direction", "name": "calls-lower-risk", "feature": "support_calls", "delta": 2,
                    "expect": "decrease"})
    assert results["calls-raise-risk"]["passed"] and results["calls-raise-risk"]["value"] == 1.0
    wrong = results["calls-lower-risk"]
    assert not wrong["passed"] and wrong["value"] == 0.0
    assert "adding 2 to 'support_calls' did not increase the positive-class probability on 0.0%" in wrong["detail"]


def test_invariance_fails_for_a_column_that_matters_and_holds_for_one_that_does_not(churn):
    results = _run(churn,
                   {"kind": "invariance", "name": "contract-matters", "column": "contract_type", "tolerance": 0.05},
                   {"kind": "invariance", "name": "region-barely", "column": "region",
                    "values": ["north", "east", "west"], "tolerance": 0.2, "max_share": 0.05})
    assert not results["contract-matters"]["passed"] and results["contract-matters"]["value"] > 0.5
    assert "setting 'contract_type' to each of month-to-month, one-year, two-year" in \
        results["contract-matters"]["detail"]
    assert results["region-barely"]["passed"], results["region-barely"]["detail"]
    assert [r["name"] for r in failed(list(results.values()))] == ["contract-matters"]


def test_min_metric_on_named_cases_from_a_query_or_a_file(churn, tmp_path):
    model, holdout = churn
    cases = tmp_path / "cases.csv"
    holdout[holdout["contract_type"] == "two-year"].to_csv(cases, index=False)
    results = _run(churn,
                   {"kind": "min_metric", "name": "two-year-stay", "query": "contract_type == 'two-year'",
                    "minimum": 0.8},
                   {"kind": "min_metric", "name": "two-year-perfect", "cases": str(cases), "minimum": 0.999},
                   {"kind": "min_metric", "name": "nobody", "query": "age > 200", "minimum": 0.5},
                   {"kind": "min_metric", "name": "no-such-metric", "query": "age > 0", "metric": "r2",
                    "minimum": 0.5})
    assert results["two-year-stay"]["passed"] and results["two-year-stay"]["value"] >= 0.8
    assert "cases \"contract_type == 'two-year'\": accuracy =" in results["two-year-stay"]["detail"]
    assert not results["two-year-perfect"]["passed"]
    assert results["two-year-perfect"]["value"] == pytest.approx(results["two-year-stay"]["value"])
    assert not results["nobody"]["passed"] and "0 row(s), fewer than the 10 needed" in results["nobody"]["detail"]
    assert not results["no-such-metric"]["passed"] and "r2 is not defined" in results["no-such-metric"]["detail"]


def test_checks_that_cannot_run_name_the_problem(churn):
    with pytest.raises(BehaviourCheckError, match="'x': column 'colour' is not a model feature"):
        _run(churn, {"kind": "invariance", "name": "x", "column": "colour"})
    with pytest.raises(BehaviourCheckError, match="'y': feature 'plan' is not numeric"):
        _run(churn, {"kind": "direction", "name": "y", "feature": "plan", "delta": 1, "expect": "increase"})
    with pytest.raises(BehaviourCheckError, match="'z': query 'age >' failed on the holdout"):
        _run(churn, {"kind": "min_metric", "name": "z", "query": "age >", "minimum": 0.5})
    with pytest.raises(BehaviourCheckError, match="cases file not found"):
        _run(churn, {"kind": "min_metric", "name": "w", "cases": "no/such.csv", "minimum": 0.5})


def test_the_schema_refuses_ambiguous_or_repeated_checks():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="set exactly one of `query` and `cases`"):
        _checks({"kind": "min_metric", "name": "a", "minimum": 0.5})
    with pytest.raises(ValidationError, match="names must be unique; repeated: a"):
        _checks(*[{"kind": "invariance", "name": "a", "column": "region"}] * 2)
    with pytest.raises(ValidationError, match="direction"):
        _checks({"kind": "direction", "name": "b", "feature": "age", "delta": 1, "expect": "sideways"})
