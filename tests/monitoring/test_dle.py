"""Direct loss estimation against a simulated covariate shift with known realized loss: the estimated MAE, RMSE and
R² stay within their band of the realized figures on an unshifted stream and on a shifted one, and move with the
shift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from steps.monitoring.dle import estimate_loss, fit_loss_estimator

FEATURES = ["x", "z", "segment"]


def _world(n: int, spread: float, seed: int):
    """y = 3x + z + segment offset + noise whose size grows with |x|; the model predicts the mean exactly, so its
    error is the noise: rows far from x = 0 are harder, and a wider spread of x makes the model worse."""
    rng = np.random.default_rng(seed)
    x, z = rng.normal(0.0, spread, n), rng.normal(0.0, 1.0, n)
    segment = rng.choice(["a", "b", "c"], n)
    mean = 3 * x + z + pd.Series(segment).map({"a": 0.0, "b": 1.0, "c": -1.0}).to_numpy()
    y = mean + rng.normal(0.0, 1.0, n) * (0.3 + np.abs(x))
    return pd.DataFrame({"x": x, "z": z, "segment": segment, "y": y}), mean


def _realized(rows, predictions):
    error = rows["y"].to_numpy() - predictions
    return {"mae": float(np.mean(np.abs(error))), "rmse": float(np.sqrt(np.mean(error ** 2))),
            "r2": 1 - float(np.mean(error ** 2)) / float(np.var(rows["y"]))}


@pytest.fixture(scope="module")
def estimator():
    return fit_loss_estimator(*_world(4000, 1.0, seed=1), "y", FEATURES)


@pytest.mark.parametrize("spread, seed", [(1.0, 2), (1.4, 3)])  # unshifted; shifted outwards (harder rows)
def test_estimated_loss_stays_within_its_band_of_realized_loss(estimator, spread, seed):
    rows, predictions = _world(1500, spread, seed)
    got = estimate_loss(estimator, rows.drop(columns=["y"]), predictions)
    for metric, value in _realized(rows, predictions).items():
        assert got[metric]["lower"] <= value <= got[metric]["upper"], (metric, got[metric], value)


def test_estimated_loss_moves_when_the_shift_raises_it(estimator):
    calm = estimate_loss(estimator, _world(1500, 1.0, seed=4)[0].drop(columns=["y"]), _world(1500, 1.0, seed=4)[1])
    rows, predictions = _world(1500, 1.4, seed=5)
    shifted = estimate_loss(estimator, rows.drop(columns=["y"]), predictions)
    assert shifted["mae"]["lower"] > calm["mae"]["upper"], (calm["mae"], shifted["mae"])
    assert shifted["rmse"]["estimate"] > calm["rmse"]["estimate"]


def test_an_unseen_category_is_treated_as_missing_not_an_error(estimator):
    rows, predictions = _world(200, 1.0, seed=6)
    rows["segment"] = "d"
    assert np.isfinite(estimate_loss(estimator, rows.drop(columns=["y"]), predictions)["mae"]["estimate"])


def test_bad_holdout_is_named():
    rows, predictions = _world(100, 1.0, seed=7)
    with pytest.raises(ValueError, match=r"holdout has no column \['w'\]"):
        fit_loss_estimator(rows, predictions, "y", ["x", "w"])
    with pytest.raises(ValueError, match="holdout has 100 rows but 99 predictions"):
        fit_loss_estimator(rows, predictions[:99], "y", FEATURES)
