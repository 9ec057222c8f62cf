"""Sample sizes of the A/B test plan against textbook values and the variances they assume."""

import math

import numpy as np
import pytest

from steps.abtest.statistics import PLANNABLE, _hanley_mcneil_variance, default_metric, plan_test

Z_975, Z_80 = 1.959964, 0.841621  # standard normal quantiles: two-sided alpha 0.05, power 0.8


def test_two_proportions_match_the_textbook_formula():
    plan = plan_test("binary", "accuracy", 0.80, 0.05)
    # (z_{1-a/2} + z_{power})^2 (p1 q1 + p2 q2) / d^2 = 7.849 x 0.2875 / 0.0025 = 902.6
    assert plan.required_per_variant == 903
    assert plan.method == "two-proportion z-test" and plan.metric == "accuracy" and plan.baseline == 0.80
    expected = math.ceil((Z_975 + Z_80) ** 2 * (0.10 * 0.90 + 0.12 * 0.88) / 0.02**2)
    assert plan_test("multiclass", "accuracy", 0.10, 0.02).required_per_variant == expected == 3839


def test_stricter_alpha_and_more_power_need_more_rows():
    base = plan_test("binary", "accuracy", 0.80, 0.05).required_per_variant
    assert plan_test("binary", "accuracy", 0.80, 0.05, alpha=0.01).required_per_variant > base
    assert plan_test("binary", "accuracy", 0.80, 0.05, power=0.9).required_per_variant > base
    assert plan_test("binary", "accuracy", 0.80, 0.10).required_per_variant < base / 3


def test_hanley_mcneil_variance_matches_a_hand_computed_value():
    # A = 0.8, 50 positives, 50 negatives: Q1 = 0.6667, Q2 = 0.7111; SE = sqrt(4.951 / 2500) = 0.0445
    assert math.sqrt(_hanley_mcneil_variance(0.8, 100, 0.5)) == pytest.approx(0.0445, abs=5e-4)


def test_roc_auc_plan_is_the_smallest_sample_with_the_power():
    plan = plan_test("binary", "roc_auc", 0.80, 0.05)
    n, z = plan.required_per_variant, Z_975 + Z_80

    def half_width(rows: int) -> float:
        return z * math.sqrt(_hanley_mcneil_variance(0.80, rows, 0.5) + _hanley_mcneil_variance(0.85, rows, 0.5))

    assert half_width(n) <= 0.05 < half_width(n - 1)
    assert plan.method == "bootstrap (ROC AUC)"
    rare = plan_test("binary", "roc_auc", 0.80, 0.05, positive_rate=0.1).required_per_variant
    assert rare > 2 * n  # few positives: an AUC estimate is noisier, the test needs more rows


def test_rmse_plan_and_the_variance_it_assumes():
    plan = plan_test("regression", "rmse", 1.0, 0.1)
    # n = z^2 (s1^2 + s2^2) / (2 d^2) = 7.849 x 1.81 / 0.02 = 710.3
    assert plan.required_per_variant == 711 and plan.method == "bootstrap (RMSE)"
    # the delta-method approximation behind it: the RMSE of n normal residuals has sd sigma / sqrt(2n)
    rmse = np.sqrt((np.random.default_rng(0).normal(0, 2.0, (4000, 400)) ** 2).mean(axis=1))
    assert rmse.std() == pytest.approx(2.0 / math.sqrt(2 * 400), rel=0.05)


def test_mae_plan_and_the_variance_it_assumes():
    plan = plan_test("regression", "mae", 1.0, 0.1)
    expected = math.ceil((Z_975 + Z_80) ** 2 * (math.pi / 2 - 1) * (1.0 + 0.81) / 0.01)
    assert plan.required_per_variant == expected == 811
    mae = np.abs(np.random.default_rng(0).normal(0, 1.0, (4000, 400))).mean(axis=1)
    assert mae.std() == pytest.approx(math.sqrt(2 / math.pi) * math.sqrt(math.pi / 2 - 1) / math.sqrt(400), rel=0.05)


@pytest.mark.parametrize("kwargs, message", [
    ({"task": "ranking"}, "task: expected one of binary, multiclass, regression, got 'ranking'"),
    ({"metric": "f1_macro"}, "metric: no sample-size formula for 'f1_macro'"),
    ({"metric": "rmse"}, "metric: 'rmse' does not apply to a binary task"),
    ({"task": "multiclass", "metric": "roc_auc"}, "metric: 'roc_auc' does not apply to a multiclass task"),
    ({"alpha": 0.0}, "alpha: expected a probability strictly between 0 and 1, got 0.0"),
    ({"power": 1.2}, "power: expected a probability strictly between 0 and 1, got 1.2"),
    ({"min_detectable_effect": 0}, "min_detectable_effect: expected a positive absolute difference, got 0"),
    ({"baseline": 1.0}, "baseline: accuracy of the champion must be strictly between 0 and 1, got 1.0"),
    ({"baseline": 0.99}, "min_detectable_effect: accuracy 0.99 \\+ 0.05 exceeds 1"),
    ({"metric": "roc_auc", "positive_rate": 1.0}, "positive_rate: expected a share strictly between 0 and 1"),
    ({"task": "regression", "metric": "rmse", "baseline": -1.0}, "baseline: rmse of the champion must be positive"),
    ({"task": "regression", "metric": "mae", "baseline": 0.04}, "min_detectable_effect: mae 0.04 - 0.05 is not"),
])
def test_bad_inputs_name_the_parameter(kwargs, message):
    arguments = {"task": "binary", "metric": "accuracy", "baseline": 0.8, "min_detectable_effect": 0.05, **kwargs}
    with pytest.raises(ValueError, match=message):
        plan_test(**arguments)


def test_default_metric_per_task_and_the_configured_one_wins():
    assert [default_metric(t) for t in ("binary", "multiclass", "regression")] == ["accuracy", "accuracy", "rmse"]
    assert default_metric("binary", "roc_auc") == "roc_auc"
    assert all(task in PLANNABLE[default_metric(task)] for task in ("binary", "multiclass", "regression"))
    with pytest.raises(ValueError, match="task: expected one of"):
        default_metric("auto")


def test_config_metrics_are_the_plannable_ones():
    from core.config import ABTEST_METRICS

    assert set(ABTEST_METRICS) == set(PLANNABLE)


def test_plan_from_the_shipped_config():
    from core.config import DeploymentConfig, load_config
    from steps.abtest import plan_from_config

    abtest = load_config("deployment", DeploymentConfig).abtest
    plan = plan_from_config(abtest, "binary", 0.80)
    assert plan == plan_test("binary", "accuracy", 0.80, 0.02, alpha=0.05, power=0.8)
    assert plan_from_config(abtest, "regression", 1.5).metric == "rmse"
    auc = load_config("deployment", DeploymentConfig, {"abtest.metric": "roc_auc"}).abtest
    assert plan_from_config(auc, "binary", 0.8, positive_rate=0.2) == plan_test("binary", "roc_auc", 0.8, 0.02,
                                                                                   positive_rate=0.2)
