"""CBPE against a simulated covariate shift with known realized performance: the estimate stays within its band of
the realized accuracy and ROC AUC, on an unshifted stream and on one where the shift lowers performance."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from steps.monitoring.cbpe import calibrate, estimate


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
