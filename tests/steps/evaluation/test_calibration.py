"""Brier score, expected calibration error and the reliability curve."""

import numpy as np
import pytest

from steps.evaluation.calibration import brier_score, expected_calibration_error, reliability


def _binary(p):
    return np.column_stack([1 - p, p])


def test_a_calibrated_model_has_a_small_error_and_a_skewed_one_a_large_one():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=20_000)
    y = (rng.uniform(size=p.size) < p).astype(int)
    calibrated = expected_calibration_error(y, _binary(p), [0, 1])
    skewed = expected_calibration_error(y, _binary(p ** 3), [0, 1])
    assert calibrated < 0.02 and skewed > 0.15
    assert brier_score(y, _binary(p), [0, 1]) < brier_score(y, _binary(p ** 3), [0, 1])


def test_error_is_the_row_weighted_gap_per_bin():
    y = np.array([1, 0, 0, 1])
    proba = _binary(np.array([0.95, 0.95, 0.05, 0.05]))  # two bins, each predicting .95/.05 where half are positive
    curve = reliability(y, proba, [0, 1])
    assert curve["count"] == [2.0, 2.0] and curve["fraction_positive"] == [0.5, 0.5]
    assert expected_calibration_error(y, proba, [0, 1]) == pytest.approx(0.45)
    assert brier_score(y, proba, [0, 1]) == pytest.approx((0.05**2 + 0.95**2) / 2)


def test_multiclass_uses_the_top_label_confidence():
    y = np.array(["a", "b", "c", "a"])
    proba = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.8, 0.1, 0.1], [0.8, 0.1, 0.1]])
    curve = reliability(y, proba, ["a", "b", "c"])
    assert curve["mean_predicted"] == pytest.approx([0.8]) and curve["fraction_positive"] == [0.75]
    assert expected_calibration_error(y, proba, ["a", "b", "c"]) == pytest.approx(0.05)
