"""How far predicted probabilities are from observed frequencies: Brier score, expected calibration error and the
reliability curve (plain functions)."""

from __future__ import annotations

from typing import Dict, List

import numpy as np
from sklearn import metrics as skm

CALIBRATION_BINS = 10


def brier_score(y_true: np.ndarray, y_proba: np.ndarray, classes: list) -> float:
    """Binary: mean squared error of the positive-class probability; multiclass: summed over classes (sklearn's)."""
    if len(classes) == 2:
        return float(skm.brier_score_loss(np.asarray(y_true) == classes[1], y_proba[:, 1]))
    return float(skm.brier_score_loss(y_true, y_proba, labels=classes))


def _confidence_and_hit(y_true: np.ndarray, y_proba: np.ndarray, classes: list) -> tuple[np.ndarray, np.ndarray]:
    """Binary: (positive-class probability, is positive); multiclass: (top-label probability, top label is right)."""
    y_true = np.asarray(y_true)
    if len(classes) == 2:
        return y_proba[:, 1], (y_true == classes[1]).astype(float)
    top = y_proba.argmax(axis=1)
    return y_proba[np.arange(len(top)), top], (np.asarray(classes, dtype=object)[top] == y_true).astype(float)


def reliability(y_true: np.ndarray, y_proba: np.ndarray, classes: list, bins: int = CALIBRATION_BINS
                ) -> Dict[str, List[float]]:
    """Per non-empty equal-width probability bin: mean predicted probability, observed frequency, row count."""
    confidence, hit = _confidence_and_hit(y_true, y_proba, classes)
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    curve: Dict[str, List[float]] = {"mean_predicted": [], "fraction_positive": [], "count": []}
    for b in range(bins):
        members = index == b
        if members.any():
            curve["mean_predicted"].append(float(confidence[members].mean()))
            curve["fraction_positive"].append(float(hit[members].mean()))
            curve["count"].append(float(members.sum()))
    return curve


def expected_calibration_error(y_true: np.ndarray, y_proba: np.ndarray, classes: list,
                               bins: int = CALIBRATION_BINS) -> float:
    """Row-weighted mean gap between predicted probability and observed frequency over the reliability bins."""
    curve = reliability(y_true, y_proba, classes, bins)
    counts = np.asarray(curve["count"])
    gaps = np.abs(np.asarray(curve["mean_predicted"]) - np.asarray(curve["fraction_positive"]))
    return float((counts * gaps).sum() / counts.sum()) if counts.sum() else float("nan")
