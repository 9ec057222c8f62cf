"""The evaluation report's figures, one matplotlib figure each: shown in the dashboard's HTML view and logged to
MLflow under the same names."""

from __future__ import annotations

import base64
import io
from typing import Any, Callable, Dict

import numpy as np

MAX_IMPORTANCE_BARS = 20


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _confusion(ax: Any, report: Any) -> None:
    cm = np.array(report.confusion_matrix)
    ax.imshow(cm, cmap="Blues")
    labels = [str(c) for c in report.classes]
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center", color="white" if v > cm.max() / 2 else "black")
    ax.set(xlabel="predicted", ylabel="actual", title="Confusion matrix")


def _roc(ax: Any, report: Any) -> None:
    ax.plot(report.roc_curve["fpr"], report.roc_curve["tpr"], label=f"AUC {report.metrics.get('roc_auc', 0):.3f}")
    ax.plot([0, 1], [0, 1], "--", color="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve")
    ax.legend(loc="lower right")


def _pr(ax: Any, report: Any) -> None:
    ax.plot(report.pr_curve["recall"], report.pr_curve["precision"],
            label=f"AP {report.metrics.get('average_precision', 0):.3f}")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall curve", ylim=(0, 1.02))
    ax.legend(loc="lower left")


def _calibration(ax: Any, report: Any) -> None:
    curve = report.calibration_curve
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfectly calibrated")
    ax.plot(curve["mean_predicted"], curve["fraction_positive"], "o-",
            label=f"ECE {report.metrics.get('ece', float('nan')):.3f}")
    kind = "positive class" if report.task == "binary" else "top label"
    ax.set(xlabel=f"predicted probability ({kind})", ylabel="observed frequency", title="Calibration curve",
           xlim=(-0.02, 1.02), ylim=(-0.02, 1.02))
    ax.legend(loc="upper left")


def _residuals(ax: Any, report: Any) -> None:
    ax.scatter(report.residuals["predicted"], report.residuals["residual"], s=6, alpha=0.5)
    ax.axhline(0, color="grey", linestyle="--")
    ax.set(xlabel="predicted", ylabel="actual - predicted", title="Residuals")


def _importance(ax: Any, report: Any) -> None:
    rows = report.importance[:MAX_IMPORTANCE_BARS][::-1]
    ax.barh([r["feature"] for r in rows], [r["mean"] for r in rows], xerr=[r["std"] for r in rows], color="#4c72b0")
    ax.set(xlabel="score drop when shuffled", title="Permutation importance (holdout)")


# figure name -> (drawer, whether the report has what it needs)
FIGURES: Dict[str, tuple[Callable[[Any, Any], None], Callable[[Any], bool]]] = {
    "confusion_matrix": (_confusion, lambda r: bool(r.confusion_matrix)),
    "roc_curve": (_roc, lambda r: bool(r.roc_curve)),
    "pr_curve": (_pr, lambda r: bool(r.pr_curve)),
    "calibration_curve": (_calibration, lambda r: bool(r.calibration_curve)),
    "residuals": (_residuals, lambda r: bool(r.residuals)),
    "permutation_importance": (_importance, lambda r: bool(r.importance)),
}


def report_figures(report: Any) -> Dict[str, Any]:
    """name -> matplotlib Figure for every figure the report has data for (the caller closes them)."""
    plt = _pyplot()
    figures = {}
    for name, (draw, available) in FIGURES.items():
        if available(report):
            fig, ax = plt.subplots(figsize=(6, 4.5) if name == "permutation_importance" else (5, 4.2))
            draw(ax, report)
            fig.tight_layout()
            figures[name] = fig
    return figures


def png_base64(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return base64.b64encode(buffer.getvalue()).decode()


def close(figures: Dict[str, Any]) -> None:
    plt = _pyplot()
    for fig in figures.values():
        plt.close(fig)
