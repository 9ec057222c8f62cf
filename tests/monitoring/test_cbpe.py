"""CBPE against a simulated covariate shift with known realized performance: the estimate stays within its band of
the realized accuracy and ROC AUC, on an unshifted stream and on one where the shift lowers performance."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from steps.monitoring.cbpe import calibrate, calibrate_multiclass, estimate, estimate_multiclass


def _world(n: int, spread: float, seed: int):
    """Truth P(y=1|x) = sigmoid(x); the model ranks correctly but is overconfident: score = sigmoid(2.5 x)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, spread, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-x))).astype(int)
    return 1 / (1 + np.exp(-2.5 * x)), y


@pytest.fixture(scope="module")
def calibration():
    return calibrate(*_world(5000, 2.0, seed=1))


def test_calibration_on_the_holdout_improves_the_brier_score(calibration):
    assert calibration.brier_after < calibration.brier_before


@pytest.mark.parametrize("spread, seed", [(2.0, 2), (0.6, 3)])  # unshifted; shifted towards the decision boundary
def test_estimate_stays_within_its_band_of_realized_performance(calibration, spread, seed):
    scores, y = _world(2000, spread, seed)
    got = estimate(calibration, scores)
    realized = {"accuracy": float(np.mean((scores >= 0.5) == y)), "roc_auc": roc_auc_score(y, scores)}
    for metric, value in realized.items():
        assert got[metric]["lower"] <= value <= got[metric]["upper"], (metric, got[metric], value)


def test_estimate_moves_when_the_shift_lowers_performance(calibration):
    calm = estimate(calibration, _world(2000, 2.0, seed=4)[0])
    shifted = estimate(calibration, _world(2000, 0.6, seed=5)[0])
    assert shifted["accuracy"]["upper"] < calm["accuracy"]["lower"]
    assert shifted["roc_auc"]["estimate"] < calm["roc_auc"]["estimate"] - 0.05


# Multiclass: three classes, truth P(y|x) = softmax(W x); the model ranks correctly but is overconfident
# (softmax(2.5 W x)). The shift moves rows towards the boundaries between classes (a smaller spread of x).
DIRECTIONS = np.array([[1.0, 0.0], [-0.5, 0.87], [-0.5, -0.87]])


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _multiclass_world(n: int, spread: float, seed: int):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, spread, (n, 2)) @ DIRECTIONS.T
    truth = _softmax(logits)
    y = (rng.random((n, 1)) > np.cumsum(truth, axis=1)).sum(axis=1)
    return _softmax(2.5 * logits), y


@pytest.fixture(scope="module")
def multiclass_calibration():
    return calibrate_multiclass(*_multiclass_world(6000, 2.0, seed=1))


def test_multiclass_calibration_on_the_holdout_improves_the_brier_score(multiclass_calibration):
    assert multiclass_calibration.brier_after < multiclass_calibration.brier_before


@pytest.mark.parametrize("spread, seed", [(2.0, 2), (0.7, 3)])  # unshifted; shifted towards the boundaries
def test_multiclass_estimate_stays_within_its_band_of_realized_accuracy(multiclass_calibration, spread, seed):
    scores, y = _multiclass_world(2000, spread, seed)
    got = estimate_multiclass(multiclass_calibration, scores)["accuracy"]
    realized = float(np.mean(scores.argmax(axis=1) == y))
    assert got["lower"] <= realized <= got["upper"], (got, realized)


def test_multiclass_estimate_moves_when_the_shift_lowers_accuracy(multiclass_calibration):
    calm = estimate_multiclass(multiclass_calibration, _multiclass_world(2000, 2.0, seed=4)[0])["accuracy"]
    shifted = estimate_multiclass(multiclass_calibration, _multiclass_world(2000, 0.7, seed=5)[0])["accuracy"]
    assert shifted["upper"] < calm["lower"], (calm, shifted)


def test_multiclass_calibration_names_a_class_missing_from_the_holdout():
    scores, y = _multiclass_world(300, 2.0, seed=6)
    with pytest.raises(ValueError, match=r"classes at columns \[2\] have no row"):
        calibrate_multiclass(scores, np.where(y == 2, 0, y))
