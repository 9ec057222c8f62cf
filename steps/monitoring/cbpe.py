"""Performance estimated before labels arrive: confidence-based performance estimation (CBPE) for binary classifiers.

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
