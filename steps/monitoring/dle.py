"""Loss estimated before labels arrive for regressors: direct loss estimation (DLE), the idea NannyML describes,
written here from its description.

A second model learns, on the champion's holdout, how wrong the champion is for a row: from the row's features and
the champion's prediction it predicts the absolute error and the squared error (scikit-learn's
HistGradientBoostingRegressor, seeded). On unlabelled rows the mean predicted absolute error is the estimated MAE and
the root of the mean predicted squared error the estimated RMSE; the estimated R² takes the batch's target variance
as the variance of the predictions plus the estimated MSE (residuals uncorrelated with the predictions, as least
squares leaves them). The band comes from a part of the holdout the loss models did not see: on resamples of it of
the batch's size, how far the realized metric was from the estimate (its bias plus three standard deviations).

Like CBPE it assumes covariate shift only: if the relation between features and target changes, only labels tell.
It is fitted at monitoring time from the holdout (about a second for a few thousand rows), so no training artifact
changes and the estimator always matches the serving champion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Sequence

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor

BAND_SIGMAS = 3.0
RESAMPLES = 200
CHECK_SHARE = 0.3  # of the holdout, kept from the loss models to measure how good their estimate is
SEED = 0
PREDICTION = "__prediction__"


@dataclass
class LossEstimator:
    """Loss models fitted on the holdout and the rows kept back to size the band."""

    features: List[str]
    categories: Dict[str, List[Any]]
    absolute: HistGradientBoostingRegressor
    squared: HistGradientBoostingRegressor
    check_predictions: np.ndarray
    check_truth: np.ndarray
    check_absolute: np.ndarray
    check_squared: np.ndarray

    def design(self, rows: pd.DataFrame, predictions: np.ndarray) -> pd.DataFrame:
        """The loss models' input: the features (text as categories known from the holdout) and the prediction."""
        frame = pd.DataFrame(index=range(len(rows)))
        for column in self.features:
            values = rows[column].to_numpy()
            if column in self.categories:
                frame[column] = pd.Categorical(values, categories=self.categories[column])
            else:
                frame[column] = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
        frame[PREDICTION] = np.asarray(predictions, dtype=float)
        return frame

    def losses(self, rows: pd.DataFrame, predictions: np.ndarray) -> tuple:
        """Per row: predicted absolute and squared error (never below zero)."""
        x = self.design(rows, predictions)
        return np.clip(self.absolute.predict(x), 0.0, None), np.clip(self.squared.predict(x), 0.0, None)


def _model() -> HistGradientBoostingRegressor:
    return HistGradientBoostingRegressor(max_iter=100, learning_rate=0.1, min_samples_leaf=20,
                                         categorical_features="from_dtype", random_state=SEED)


def fit_loss_estimator(holdout: pd.DataFrame, predictions: np.ndarray, target: str, features: Sequence[str]
                       ) -> LossEstimator:
    """Fits the loss models on part of the holdout (rows, the champion's `predictions` of them, the true `target`)."""
    missing = [c for c in [*features, target] if c not in holdout.columns]
    if missing:
        raise ValueError(f"holdout has no column {missing}; columns are {list(holdout.columns)}")
    predictions = np.asarray(predictions, dtype=float)
    if len(predictions) != len(holdout):
        raise ValueError(f"holdout has {len(holdout)} rows but {len(predictions)} predictions")
    if len(holdout) < 50:
        raise ValueError(f"direct loss estimation needs at least 50 holdout rows, found {len(holdout)}")
    truth = holdout[target].to_numpy(dtype=float)
    categories = {c: sorted(holdout[c].dropna().astype(str).unique()) for c in features
                  if not pd.api.types.is_numeric_dtype(holdout[c])}
    rows = holdout.reset_index(drop=True).astype({c: str for c in categories})
    order = np.random.default_rng(SEED).permutation(len(holdout))
    check, fit = order[: int(len(order) * CHECK_SHARE)], order[int(len(order) * CHECK_SHARE):]
    estimator = LossEstimator(list(features), categories, _model(), _model(), predictions[check], truth[check],
                              np.empty(0), np.empty(0))
    x_fit = estimator.design(rows.iloc[fit], predictions[fit])
    error = truth[fit] - predictions[fit]
    estimator.absolute.fit(x_fit, np.abs(error))
    estimator.squared.fit(x_fit, error ** 2)
    estimator.check_absolute, estimator.check_squared = estimator.losses(rows.iloc[check], predictions[check])
    return estimator


def loss_metrics(predictions: np.ndarray, absolute: np.ndarray, squared: np.ndarray) -> Dict[str, float]:
    """MAE, RMSE and R² from per-row absolute and squared errors (predicted or realized)."""
    mse = float(np.mean(squared))
    variance = float(np.var(predictions)) + mse
    return {"mae": float(np.mean(absolute)), "rmse": float(np.sqrt(mse)),
            "r2": 1.0 - mse / variance if variance > 0 else float("nan")}


def _realized(truth: np.ndarray, predictions: np.ndarray) -> Dict[str, float]:
    error = truth - predictions
    mse = float(np.mean(error ** 2))
    variance = float(np.var(truth))
    return {"mae": float(np.mean(np.abs(error))), "rmse": float(np.sqrt(mse)),
            "r2": 1.0 - mse / variance if variance > 0 else float("nan")}


def estimate_loss(estimator: LossEstimator, rows: pd.DataFrame, predictions: np.ndarray, seed: int = 0
                  ) -> Dict[str, Dict[str, float]]:
    """{metric: {'estimate', 'lower', 'upper'}} (mae, rmse, r2) for unlabelled `rows` and the champion's
    `predictions` of them."""
    predictions = np.asarray(predictions, dtype=float)
    rows = rows.reset_index(drop=True).astype({c: str for c in estimator.categories if c in rows.columns})
    values = loss_metrics(predictions, *estimator.losses(rows, predictions))
    rng = np.random.default_rng(seed)
    misses: Dict[str, List[float]] = {name: [] for name in values}
    size = len(predictions)
    for _ in range(RESAMPLES):
        pick = rng.integers(0, len(estimator.check_truth), size)
        realized = _realized(estimator.check_truth[pick], estimator.check_predictions[pick])
        estimated = loss_metrics(estimator.check_predictions[pick], estimator.check_absolute[pick],
                                 estimator.check_squared[pick])
        for name in values:
            misses[name].append(realized[name] - estimated[name])
    out = {}
    for name, value in values.items():
        miss = np.array(misses[name])
        half = abs(float(np.nanmean(miss))) + BAND_SIGMAS * float(np.nanstd(miss))
        out[name] = {"estimate": value, "lower": value - half, "upper": value + half}
    return out
