"""Holdout evaluation: task-appropriate metrics, calibration and the curves behind the pictures people want."""

from __future__ import annotations

import dataclasses
import html
from typing import Any, Dict, List, Optional

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from materializers.report_base import Report, html_page
from steps.evaluation.calibration import brier_score, expected_calibration_error, reliability

# The metric each task is judged by (gates, champion/challenger comparison); higher is better for all of them.
PRIMARY_METRIC = {"binary": "roc_auc", "multiclass": "f1_macro", "regression": "r2"}


# Metrics where lower is better (everything else in a report's `metrics` is higher-is-better).
LOWER_IS_BETTER = frozenset({"rmse", "mae", "log_loss", "brier_score", "ece"})
WORST_SLICES_SHOWN = 10


@dataclasses.dataclass
class EvaluationReport(Report):
    """Holdout metrics of one model, with curve data, importance and slices for the dashboard and MLflow."""

    title = "Holdout evaluation"
    task: str
    n_rows: int
    metrics: Dict[str, float]
    primary_metric: str
    classes: List[Any] = dataclasses.field(default_factory=list)
    confusion_matrix: List[List[int]] = dataclasses.field(default_factory=list)
    roc_curve: Dict[str, List[float]] = dataclasses.field(default_factory=dict)  # fpr, tpr (binary)
    residuals: Dict[str, List[float]] = dataclasses.field(default_factory=dict)  # predicted, residual (sample)
    pr_curve: Dict[str, List[float]] = dataclasses.field(default_factory=dict)  # precision, recall (binary)
    # mean_predicted, fraction_positive, count per probability bin (positive class; top label for multiclass)
    calibration_curve: Dict[str, List[float]] = dataclasses.field(default_factory=dict)
    importance: List[Dict[str, Any]] = dataclasses.field(default_factory=list)  # feature, mean, std; largest first
    slices: List[Dict[str, Any]] = dataclasses.field(default_factory=list)  # feature, value, rows, score; worst first
    min_slice_rows: int = 0
    slice_bins: Dict[str, int] = dataclasses.field(default_factory=dict)  # numeric feature -> quantile bins sliced
    behaviour: List[Dict[str, Any]] = dataclasses.field(default_factory=list)  # name, kind, passed, value, detail
    calibration_choice: Dict[str, Any] = dataclasses.field(default_factory=dict)  # CalibrationReport as a dict

    @property
    def primary_value(self) -> float:
        return self.metrics[self.primary_metric]

    def to_html(self) -> str:
        from steps.evaluation.figures import close, png_base64, report_figures

        rows = "".join(
            f"<tr><th>{k}{' (primary)' if k == self.primary_metric else ''}</th><td>{v:.4f}</td></tr>"
            for k, v in self.metrics.items()
        )
        figures = report_figures(self)
        images = "".join(f"<img alt='{name}' src='data:image/png;base64,{png_base64(fig)}'/>"
                         for name, fig in figures.items())
        close(figures)
        body = (f"<p>{self.task} task, {self.n_rows} holdout rows.</p><table>{rows}</table>"
                f"{self._calibration_html()}{self._behaviour_html()}{images}{self._slices_html()}"
                f"{self._importance_html()}")
        return html_page(self.title, body)

    def _slices_html(self) -> str:
        if not self.slices:
            return ""
        shown = [s for s in self.slices if s["score"] is not None][:WORST_SLICES_SHOWN]
        rows = "".join(
            f"<tr><td>{html.escape(s['feature'])}</td><td>{html.escape(s['value'])}</td><td>{s['rows']}</td>"
            f"<td>{s['score']:.4f}</td><td>{s['score'] - self.primary_value:+.4f}</td></tr>" for s in shown)
        binned = (f" and per quantile bin of {', '.join(f'{c} ({n})' for c, n in sorted(self.slice_bins.items()))}"
                  if self.slice_bins else "")
        return (f"<h3>Worst slices</h3><p>{self.primary_metric} per value of each categorical feature{binned}, with at "
                f"least {self.min_slice_rows} holdout rows, worst first ({len(self.slices)} slices).</p>"
                f"<table><tr><th>feature</th><th>value</th><th>rows</th><th>{self.primary_metric}</th>"
                f"<th>vs overall</th></tr>{rows}</table>")

    def _behaviour_html(self) -> str:
        if not self.behaviour:
            return ""
        rows = "".join(
            f"<tr><td>{html.escape(r['name'])}</td><td>{html.escape(r['kind'])}</td>"
            f"<td class='{'pass' if r['passed'] else 'fail'}'>{'pass' if r['passed'] else 'FAIL'}</td>"
            f"<td>{html.escape(r['detail'])}</td></tr>" for r in self.behaviour)
        return ("<h3>Behaviour checks</h3><table><tr><th>check</th><th>kind</th><th>result</th><th>detail</th></tr>"
                f"{rows}</table>")

    def _calibration_html(self) -> str:
        losses = self.calibration_choice.get("holdout_log_loss") or {}
        if not losses:
            return ""
        chosen = self.calibration_choice["chosen"]
        rows = "".join(f"<tr><td>{html.escape(k)}{' (chosen)' if k == chosen else ''}</td><td>{v:.4f}</td></tr>"
                       for k, v in sorted(losses.items()))
        return (f"<h3>Calibration</h3><p>Calibrators fitted on {self.calibration_choice['calibration_rows']} "
                f"training rows set aside from the fit; the option with the lowest holdout log loss serves: "
                f"<b>{html.escape(chosen)}</b>.</p><table><tr><th>option</th><th>holdout log loss</th></tr>{rows}"
                "</table>")

    def _importance_html(self) -> str:
        if not self.importance:
            return ""
        rows = "".join(f"<tr><td>{html.escape(r['feature'])}</td><td>{r['mean']:.4f} ± {r['std']:.4f}</td></tr>"
                       for r in self.importance)
        return (f"<h3>Permutation importance</h3><p>Drop in {self.primary_metric} on the holdout when a column is "
                f"shuffled.</p><table><tr><th>feature</th><th>importance</th></tr>{rows}</table>")


def _curve_sample(values: np.ndarray, max_points: int = 400) -> List[float]:
    idx = np.linspace(0, len(values) - 1, min(len(values), max_points)).astype(int)
    return [float(v) for v in values[idx]]


def evaluate(
    y_true: pd.Series, y_pred: np.ndarray, task: str, y_proba: Optional[np.ndarray] = None, classes: Optional[list] = None
) -> EvaluationReport:
    """Metrics of predictions against the truth. `y_proba` columns follow `classes` (classification)."""
    y_true = np.asarray(y_true)
    if task == "regression":
        residual = y_true - y_pred
        sample = np.random.default_rng(0).choice(len(y_true), size=min(len(y_true), 500), replace=False)
        return EvaluationReport(
            task=task,
            n_rows=len(y_true),
            primary_metric=PRIMARY_METRIC[task],
            metrics={
                "r2": float(skm.r2_score(y_true, y_pred)),
                "rmse": float(np.sqrt(skm.mean_squared_error(y_true, y_pred))),
                "mae": float(skm.mean_absolute_error(y_true, y_pred)),
            },
            residuals={"predicted": [float(v) for v in y_pred[sample]], "residual": [float(v) for v in residual[sample]]},
        )
    classes = list(classes) if classes is not None else sorted(np.unique(y_true).tolist())
    metrics: Dict[str, float] = {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y_true, y_pred)),
        "f1_macro": float(skm.f1_score(y_true, y_pred, average="macro")),
        "precision_macro": float(skm.precision_score(y_true, y_pred, average="macro", zero_division=0)),
        "recall_macro": float(skm.recall_score(y_true, y_pred, average="macro", zero_division=0)),
    }
    roc: Dict[str, List[float]] = {}
    pr: Dict[str, List[float]] = {}
    calibration: Dict[str, List[float]] = {}
    if y_proba is not None and len(np.unique(y_true)) > 1:
        if task == "binary":
            positive, is_positive = y_proba[:, 1], y_true == classes[1]
            metrics["roc_auc"] = float(skm.roc_auc_score(is_positive, positive))
            metrics["average_precision"] = float(skm.average_precision_score(is_positive, positive))
            metrics["log_loss"] = float(skm.log_loss(y_true, y_proba, labels=classes))
            fpr, tpr, _ = skm.roc_curve(is_positive, positive)
            roc = {"fpr": _curve_sample(fpr), "tpr": _curve_sample(tpr)}
            precision, recall, _ = skm.precision_recall_curve(is_positive, positive)
            pr = {"precision": _curve_sample(precision), "recall": _curve_sample(recall)}
        else:
            metrics["roc_auc_ovr"] = float(skm.roc_auc_score(y_true, y_proba, multi_class="ovr", labels=classes))
    if y_proba is not None and len(y_true):
        metrics["brier_score"] = brier_score(y_true, y_proba, classes)
        metrics["ece"] = expected_calibration_error(y_true, y_proba, classes)
        calibration = reliability(y_true, y_proba, classes)
    cm = skm.confusion_matrix(y_true, y_pred, labels=classes)
    return EvaluationReport(
        task=task,
        n_rows=len(y_true),
        metrics=metrics,
        primary_metric=PRIMARY_METRIC[task] if PRIMARY_METRIC[task] in metrics else "accuracy",
        classes=[c.item() if hasattr(c, "item") else c for c in classes],
        confusion_matrix=cm.tolist(),
        roc_curve=roc,
        pr_curve=pr,
        calibration_curve=calibration,
    )


def predict_with(model: Any, X: pd.DataFrame, task: str) -> tuple[np.ndarray, Optional[np.ndarray], Optional[list]]:
    """(predictions, class probabilities, classes) of a fitted Pipeline."""
    y_pred = model.predict(X)
    if task == "regression":
        return y_pred, None, None
    return y_pred, model.predict_proba(X), list(model.classes_)
