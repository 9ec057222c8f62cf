"""Metrics of a variant's labelled rows, computed on many bootstrap resamples at once, and the bootstrap itself.

Each metric takes an index matrix (one resample per row) and returns one value per resample, vectorized where it
matters: per-row means (accuracy, rmse, mae, log loss), ROC AUC from each row's multiplicity in a resample (no sort
per resample), macro averages from per-resample confusion counts (f1_macro, balanced_accuracy), r2. Each equals
sklearn's value on the same rows (tests/abtest).
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Callable, Dict, Optional

import numpy as np

if TYPE_CHECKING:
    from steps.abtest.statistics import VariantOutcomes

BOOTSTRAP_RESAMPLES = 2000
_CHUNK = 250  # resamples drawn at once: bounds memory at _CHUNK x rows


class Metric:
    """A metric evaluated on a variant's rows, and on many resamples of them at once (rows of an index matrix)."""

    needs_proba = False

    def resampled(self, data: VariantOutcomes, positive, index: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def value(self, data: VariantOutcomes, positive) -> Optional[float]:
        if len(data) == 0:
            return None
        result = float(self.resampled(data, positive, np.arange(len(data))[None, :])[0])
        return None if math.isnan(result) else result


class _RowMean(Metric):
    """Metrics that are a transform of a per-row mean: accuracy, rmse, mae, log loss (vectorized bootstrap)."""

    def __init__(self, per_row: Callable[[VariantOutcomes, object], np.ndarray], finish=lambda m: m,
                 needs_proba: bool = False):
        self.per_row, self.finish, self.needs_proba = per_row, finish, needs_proba

    def resampled(self, data, positive, index):
        return self.finish(self.per_row(data, positive)[index].mean(axis=1))


class _RocAuc(Metric):
    """Mann-Whitney AUC of each resample from the multiplicity of every row in it: O(rows) per resample, no sort
    (rows are sorted by score once; tied scores count one half, as in sklearn's roc_auc_score)."""

    needs_proba = True

    def resampled(self, data, positive, index):
        order = np.argsort(data.proba, kind="stable")
        scores, is_positive = data.proba[order], (data.y_true == positive)[order]
        rank_of = np.empty_like(order)
        rank_of[order] = np.arange(len(order))
        draws, rows = index.shape
        flat = (rank_of[index] + np.arange(draws)[:, None] * rows).ravel()
        weight = np.bincount(flat, minlength=draws * rows).reshape(draws, rows).astype(float)
        positives, negatives = weight * is_positive, weight * ~is_positive
        below = np.concatenate([np.zeros((draws, 1)), np.cumsum(negatives, axis=1)], axis=1)  # below[:, i]: < i
        first = np.searchsorted(scores, scores, side="left")  # each row's group of tied scores: [first, last)
        last = np.searchsorted(scores, scores, side="right")
        beaten = below[:, first] + 0.5 * (below[:, last] - below[:, first])
        with np.errstate(invalid="ignore", divide="ignore"):
            return (positives * beaten).sum(axis=1) / (positives.sum(axis=1) * negatives.sum(axis=1))


class _PerClass(Metric):
    """Macro averages over classes from per-resample confusion counts: f1_macro, balanced_accuracy (as sklearn's)."""

    def __init__(self, score: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]):
        self.score = score  # (true count, predicted count, true positives) -> per-class score, NaN when undefined

    def resampled(self, data, positive, index):
        per_class = []
        for label in np.unique(np.concatenate([data.y_true, data.y_pred])):
            is_true, is_predicted = data.y_true == label, data.y_pred == label
            counts = (is_true[index].sum(axis=1), is_predicted[index].sum(axis=1),
                      (is_true & is_predicted)[index].sum(axis=1))
            with np.errstate(invalid="ignore", divide="ignore"):
                per_class.append(self.score(*counts))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # no class defined in a resample: NaN, dropped later
            return np.nanmean(np.array(per_class), axis=0)


def _r2(data: VariantOutcomes, positive, index: np.ndarray) -> np.ndarray:
    truth, predicted = data.y_true.astype(float)[index], data.y_pred.astype(float)[index]
    residual = ((truth - predicted) ** 2).sum(axis=1)
    total = ((truth - truth.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1 - residual / total


class _Function(Metric):
    def __init__(self, function):
        self.function = function

    def resampled(self, data, positive, index):
        return self.function(data, positive, index)


def _log_loss_rows(data: VariantOutcomes, positive) -> np.ndarray:
    p_true = np.where(data.y_true == positive, data.proba, 1 - data.proba)
    return -np.log(np.clip(p_true, 1e-15, 1.0))


METRICS: Dict[str, Metric] = {
    "accuracy": _RowMean(lambda d, _: (d.y_true == d.y_pred).astype(float)),
    "rmse": _RowMean(lambda d, _: (d.y_true.astype(float) - d.y_pred.astype(float)) ** 2, finish=np.sqrt),
    "mae": _RowMean(lambda d, _: np.abs(d.y_true.astype(float) - d.y_pred.astype(float))),
    "log_loss": _RowMean(_log_loss_rows, needs_proba=True),
    "roc_auc": _RocAuc(),
    # a class neither true nor predicted in a resample is left out of the average, as sklearn does
    "f1_macro": _PerClass(lambda true, predicted, hits: np.where(true + predicted > 0, 2 * hits / (true + predicted),
                                                                 np.nan)),
    "balanced_accuracy": _PerClass(lambda true, predicted, hits: np.where(true > 0, hits / true, np.nan)),
    "r2": _Function(_r2),
}


def bootstrap(metric: Metric, champion: VariantOutcomes, challenger: VariantOutcomes, positive, sign: float,
               seed: int) -> np.ndarray:
    """Oriented differences challenger - champion over resamples drawn independently per variant (NaN dropped)."""
    rng = np.random.default_rng(seed)
    differences = []
    for start in range(0, BOOTSTRAP_RESAMPLES, _CHUNK):
        size = min(_CHUNK, BOOTSTRAP_RESAMPLES - start)
        old = metric.resampled(champion, positive, rng.integers(0, len(champion), (size, len(champion))))
        new = metric.resampled(challenger, positive, rng.integers(0, len(challenger), (size, len(challenger))))
        differences.append(sign * (new - old))
    result = np.concatenate(differences)
    return result[~np.isnan(result)]
