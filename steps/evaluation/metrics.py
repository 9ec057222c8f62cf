"""Holdout evaluation: task-appropriate metrics and the pictures people want (confusion matrix, ROC, residuals)."""

from __future__ import annotations

import base64
import dataclasses
import io
from typing import Any, Dict, List, Optional

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from materializers.report_base import Report, html_page

# The metric each task is judged by (gates, champion/challenger comparison); higher is better for all of them.
PRIMARY_METRIC = {"binary": "roc_auc", "multiclass": "f1_macro", "regression": "r2"}


@dataclasses.dataclass
class EvaluationReport(Report):
    """Holdout metrics of one model, with curve data for the dashboard."""

    title = "Holdout evaluation"
    task: str
    n_rows: int
    metrics: Dict[str, float]
    primary_metric: str
    classes: List[Any] = dataclasses.field(default_factory=list)
    confusion_matrix: List[List[int]] = dataclasses.field(default_factory=list)
    roc_curve: Dict[str, List[float]] = dataclasses.field(default_factory=dict)  # fpr, tpr (binary)
    residuals: Dict[str, List[float]] = dataclasses.field(default_factory=dict)  # predicted, residual (sample)

    @property
    def primary_value(self) -> float:
        return self.metrics[self.primary_metric]

    def to_html(self) -> str:
        rows = "".join(
            f"<tr><th>{k}{' (primary)' if k == self.primary_metric else ''}</th><td>{v:.4f}</td></tr>"
            for k, v in self.metrics.items()
        )
        images = "".join(f"<img src='data:image/png;base64,{png}'/>" for png in self._plots())
        body = f"<p>{self.task} task, {self.n_rows} holdout rows.</p><table>{rows}</table>{images}"
        return html_page(self.title, body)

    def _plots(self) -> List[str]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        panels = []
        if self.confusion_matrix:
            panels.append("confusion")
        if self.roc_curve:
            panels.append("roc")
        if self.residuals:
            panels.append("residuals")
        if not panels:
            return []
        fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.2))
        axes = np.atleast_1d(axes)
        for ax, panel in zip(axes, panels):
            if panel == "confusion":
                cm = np.array(self.confusion_matrix)
                ax.imshow(cm, cmap="Blues")
                ax.set_xticks(range(len(self.classes)), [str(c) for c in self.classes])
                ax.set_yticks(range(len(self.classes)), [str(c) for c in self.classes])
                for (i, j), v in np.ndenumerate(cm):
                    ax.text(j, i, str(v), ha="center", va="center", color="white" if v > cm.max() / 2 else "black")
                ax.set(xlabel="predicted", ylabel="actual", title="Confusion matrix")
            elif panel == "roc":
                ax.plot(self.roc_curve["fpr"], self.roc_curve["tpr"], label=f"AUC {self.metrics.get('roc_auc', 0):.3f}")
                ax.plot([0, 1], [0, 1], "--", color="grey")
                ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve")
                ax.legend(loc="lower right")
            else:
                ax.scatter(self.residuals["predicted"], self.residuals["residual"], s=6, alpha=0.5)
                ax.axhline(0, color="grey", linestyle="--")
                ax.set(xlabel="predicted", ylabel="actual - predicted", title="Residuals")
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=90)
        plt.close(fig)
        return [base64.b64encode(buffer.getvalue()).decode()]


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
    if y_proba is not None and len(np.unique(y_true)) > 1:
        if task == "binary":
            positive = y_proba[:, 1]
            metrics["roc_auc"] = float(skm.roc_auc_score(y_true == classes[1], positive))
            metrics["log_loss"] = float(skm.log_loss(y_true, y_proba, labels=classes))
            fpr, tpr, _ = skm.roc_curve(y_true == classes[1], positive)
            roc = {"fpr": _curve_sample(fpr), "tpr": _curve_sample(tpr)}
        else:
            metrics["roc_auc_ovr"] = float(skm.roc_auc_score(y_true, y_proba, multi_class="ovr", labels=classes))
    cm = skm.confusion_matrix(y_true, y_pred, labels=classes)
    return EvaluationReport(
        task=task,
        n_rows=len(y_true),
        metrics=metrics,
        primary_metric=PRIMARY_METRIC[task] if PRIMARY_METRIC[task] in metrics else "accuracy",
        classes=[c.item() if hasattr(c, "item") else c for c in classes],
        confusion_matrix=cm.tolist(),
        roc_curve=roc,
    )


def predict_with(model: Any, X: pd.DataFrame, task: str) -> tuple[np.ndarray, Optional[np.ndarray], Optional[list]]:
    """(predictions, class probabilities, classes) of a fitted Pipeline."""
    y_pred = model.predict(X)
    if task == "regression":
        return y_pred, None, None
    return y_pred, model.predict_proba(X), list(model.classes_)
