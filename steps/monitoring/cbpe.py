"""Performance estimated before labels arrive: confidence-based performance estimation (CBPE) for classifiers.

The method NannyML published: if the model's probabilities are calibrated, the confusion matrix a batch would have
is expected from the probabilities alone. Calibrate the scores on the holdout (isotonic regression, which keeps the
order of the scores), then on unlabelled rows:
  - a row predicted positive is right with probability p, a row predicted negative with probability 1 - p, so the
    expected accuracy is the mean of those;
  - sweeping the threshold over the scores, the expected true positives above it are the sum of p and the expected
    false positives the sum of 1 - p, which traces an expected ROC curve, and its area is the expected ROC AUC.
The band is the sampling error of the metric for a batch of that size (its spread on resamples of the holdout, as
NannyML does with reference chunks), three standard errors wide. CBPE assumes the relation between features and
target holds (covariate shift only): under concept drift the estimate is wrong, which is why realized performance
replaces it once labels arrive.

Multiclass: each class's score is calibrated one-vs-rest on the holdout (the same isotonic map), the calibrated
probabilities of a row are renormalised to sum to one, and a row is right with the calibrated probability of the
class the model predicts (its top raw score), so the expected accuracy is the mean of those. The band is, as for
binary, the spread of realized accuracy on resamples of the holdout of the batch's size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score

BAND_SIGMAS = 3.0
RESAMPLES = 200


@dataclass
class Calibration:
    """An isotonic map from the model's positive-class score to a calibrated probability, and its quality."""

    scores: List[float]
    probabilities: List[float]
    brier_before: float
    brier_after: float
    holdout_scores: List[float] = field(default_factory=list, repr=False)
    holdout_labels: List[int] = field(default_factory=list, repr=False)

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(scores, dtype=float), self.scores, self.probabilities)


def calibrate(scores: np.ndarray, y_positive: np.ndarray) -> Calibration:
    """Fit the calibration on the holdout: `scores` of the positive class, `y_positive` 1 where it was positive."""
    scores, y = np.asarray(scores, dtype=float), np.asarray(y_positive, dtype=int)
    if len(np.unique(y)) < 2:
        raise ValueError("calibration needs both classes in the holdout")
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(scores, y)
    after = iso.predict(scores)
    return Calibration(
        scores=[float(v) for v in iso.X_thresholds_], probabilities=[float(v) for v in iso.y_thresholds_],
        brier_before=float(np.mean((scores - y) ** 2)), brier_after=float(np.mean((after - y) ** 2)),
        holdout_scores=scores.tolist(), holdout_labels=y.tolist(),
    )


def expected_metrics(calibrated: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> Dict[str, float]:
    """Expected accuracy and ROC AUC of rows with calibrated probabilities (and the raw scores the model ranks by)."""
    p = np.asarray(calibrated, dtype=float)
    predicted_positive = np.asarray(scores, dtype=float) >= threshold
    accuracy = float(np.mean(np.where(predicted_positive, p, 1.0 - p)))
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    tp, fp = np.cumsum(p[order]), np.cumsum(1.0 - p[order])
    if tp[-1] <= 0 or fp[-1] <= 0:
        return {"accuracy": accuracy, "roc_auc": float("nan")}
    tpr, fpr = np.concatenate([[0.0], tp / tp[-1]]), np.concatenate([[0.0], fp / fp[-1]])
    return {"accuracy": accuracy, "roc_auc": float(np.trapezoid(tpr, fpr))}


def sampling_error(calibration: Calibration, n_rows: int, seed: int = 0) -> Dict[str, float]:
    """Standard error of realized accuracy and ROC AUC for a batch of `n_rows`, from resamples of the holdout."""
    rng = np.random.default_rng(seed)
    scores, y = np.asarray(calibration.holdout_scores), np.asarray(calibration.holdout_labels)
    accuracies, aucs = [], []
    for _ in range(RESAMPLES):
        pick = rng.integers(0, len(y), n_rows)
        accuracies.append(np.mean((scores[pick] >= 0.5) == y[pick]))
        if len(np.unique(y[pick])) == 2:
            aucs.append(roc_auc_score(y[pick], scores[pick]))
    return {"accuracy": float(np.std(accuracies)), "roc_auc": float(np.std(aucs)) if aucs else float("nan")}


def estimate(calibration: Calibration, scores: np.ndarray) -> Dict[str, Dict[str, float]]:
    """{metric: {'estimate', 'lower', 'upper'}} for unlabelled rows with positive-class `scores`."""
    scores = np.asarray(scores, dtype=float)
    values = expected_metrics(calibration(scores), scores)
    errors = sampling_error(calibration, len(scores))
    return {name: {"estimate": value, "lower": value - BAND_SIGMAS * errors[name],
                   "upper": value + BAND_SIGMAS * errors[name]} for name, value in values.items()}


@dataclass
class MulticlassCalibration:
    """One-vs-rest calibrations, one per class, in the column order of the model's scores."""

    per_class: List[Calibration]
    brier_before: float
    brier_after: float

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        scores = np.asarray(scores, dtype=float)
        calibrated = np.column_stack([c(scores[:, i]) for i, c in enumerate(self.per_class)])
        total = calibrated.sum(axis=1, keepdims=True)
        uniform = np.full_like(calibrated, 1.0 / calibrated.shape[1])
        return np.where(total > 0, calibrated / np.where(total > 0, total, 1.0), uniform)


def calibrate_multiclass(scores: np.ndarray, y_index: np.ndarray) -> MulticlassCalibration:
    """Fit per-class calibrations on the holdout: `scores` (rows x classes), `y_index` the true class's column."""
    scores, y = np.asarray(scores, dtype=float), np.asarray(y_index, dtype=int)
    if scores.ndim != 2 or scores.shape[1] < 3:
        raise ValueError(f"multiclass calibration needs a score column per class (3 or more), got shape "
                         f"{scores.shape}")
    missing = sorted(set(range(scores.shape[1])) - set(y.tolist()))
    if missing:
        raise ValueError(f"multiclass calibration needs every class in the holdout; classes at columns {missing} "
                         "have no row")
    per_class = [calibrate(scores[:, i], (y == i).astype(int)) for i in range(scores.shape[1])]
    onehot = np.eye(scores.shape[1])[y]
    calibration = MulticlassCalibration(per_class, float(np.mean(np.sum((scores - onehot) ** 2, axis=1))), 0.0)
    calibration.brier_after = float(np.mean(np.sum((calibration(scores) - onehot) ** 2, axis=1)))
    return calibration


def estimate_multiclass(calibration: MulticlassCalibration, scores: np.ndarray, seed: int = 0
                        ) -> Dict[str, Dict[str, float]]:
    """{'accuracy': {'estimate', 'lower', 'upper'}} for unlabelled rows with per-class `scores` (rows x classes)."""
    scores = np.asarray(scores, dtype=float)
    predicted = scores.argmax(axis=1)
    value = float(np.mean(calibration(scores)[np.arange(len(scores)), predicted]))
    holdout_scores = np.column_stack([c.holdout_scores for c in calibration.per_class])
    holdout_right = holdout_scores.argmax(axis=1) == np.argmax(
        np.column_stack([c.holdout_labels for c in calibration.per_class]), axis=1)
    rng = np.random.default_rng(seed)
    error = float(np.std([holdout_right[rng.integers(0, len(holdout_right), len(scores))].mean()
                          for _ in range(RESAMPLES)]))
    return {"accuracy": {"estimate": value, "lower": value - BAND_SIGMAS * error,
                         "upper": value + BAND_SIGMAS * error}}
