"""Calibration of the final classifier on training rows it was not fitted on, kept only when it lowers the holdout
log loss (plain functions, no ZenML).

The fitted estimator is frozen (sklearn's FrozenEstimator) and wrapped in CalibratedClassifierCV, which replaces the
Pipeline's model step: preprocessing and the calibrated estimator still serve as one Pipeline, and the serving
allowlist holds the two calibration types this adds.
"""

from __future__ import annotations

import dataclasses
import html
from typing import Any, Dict, List, Optional

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline

from materializers.report_base import Report, html_page
from steps.training.model_factory import MODEL_STEP

UNCALIBRATED = "none"


@dataclasses.dataclass
class CalibrationReport(Report):
    """Which calibration the final model got, and the holdout log loss of every option tried."""

    title = "Calibration"
    chosen: str  # "none" or the method
    calibration_rows: int = 0
    holdout_log_loss: Dict[str, float] = dataclasses.field(default_factory=dict)  # option -> log loss
    note: str = ""

    @property
    def tried(self) -> bool:
        return bool(self.holdout_log_loss)

    def summary(self) -> str:
        if not self.tried:
            return self.note or "not calibrated"
        losses = ", ".join(f"{k} {v:.4f}" for k, v in self.holdout_log_loss.items())
        return f"chosen: {self.chosen} (holdout log loss {losses}; calibrator fitted on {self.calibration_rows} rows)"

    def to_html(self) -> str:
        rows = "".join(f"<tr><td>{html.escape(k)}{' (chosen)' if k == self.chosen else ''}</td><td>{v:.4f}</td></tr>"
                       for k, v in self.holdout_log_loss.items())
        table = f"<table><tr><th>option</th><th>holdout log loss</th></tr>{rows}</table>" if rows else ""
        return html_page(self.title, f"<p>{html.escape(self.summary())}</p>{table}")


def calibrated(model: Pipeline, X: pd.DataFrame, y: pd.Series, method: str) -> Pipeline:
    """`model` (a fitted Pipeline) with its estimator frozen and calibrated by `method` on (X, y)."""
    preprocess, estimator = model[:-1], model[-1]
    calibrator = CalibratedClassifierCV(FrozenEstimator(estimator), method=method)
    calibrator.fit(preprocess.transform(X), y)
    return Pipeline([*preprocess.steps, (MODEL_STEP, calibrator)])


def holdout_log_loss(model: Any, X: pd.DataFrame, y: pd.Series) -> float:
    return float(skm.log_loss(y, model.predict_proba(X), labels=list(model.classes_)))


def choose_calibration(model: Pipeline, calibration_X: pd.DataFrame, calibration_y: pd.Series,
                       holdout_X: pd.DataFrame, holdout_y: pd.Series, methods: List[str]
                       ) -> tuple[Pipeline, CalibrationReport]:
    """Calibrates `model` by each of `methods` on the calibration rows; returns the option (uncalibrated included)
    with the lowest holdout log loss, ties going to the uncalibrated model, and the report of all of them."""
    if not methods or len(calibration_X) == 0:
        return model, CalibrationReport(chosen=UNCALIBRATED, note="calibration not configured")
    if pd.Series(calibration_y).nunique() < 2 or pd.Series(holdout_y).nunique() < 2:
        return model, CalibrationReport(chosen=UNCALIBRATED, calibration_rows=len(calibration_X),
                                        note="one class only in the calibration or holdout rows: not calibrated")
    options: Dict[str, Pipeline] = {UNCALIBRATED: model}
    for method in methods:
        options[method] = calibrated(model, calibration_X, calibration_y, method)
    losses = {name: holdout_log_loss(option, holdout_X, holdout_y) for name, option in options.items()}
    chosen = min(losses, key=lambda name: (losses[name], name != UNCALIBRATED))
    return options[chosen], CalibrationReport(chosen=chosen, calibration_rows=len(calibration_X),
                                              holdout_log_loss=losses)


def split_off(frame: pd.DataFrame, mask: Optional[np.ndarray]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows to fit on, rows set aside for calibration) of the training set, by the manifest's mask."""
    if mask is None or not mask.any():
        return frame, frame.iloc[:0]
    return frame.loc[~mask].reset_index(drop=True), frame.loc[mask].reset_index(drop=True)
