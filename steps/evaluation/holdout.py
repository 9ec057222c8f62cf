"""The full holdout evaluation of a trained model (metrics, calibration, importance, slices) and its record in
MLflow: plain functions that the evaluation step calls."""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List

import pandas as pd

from steps.evaluation.importance import holdout_importance
from steps.evaluation.metrics import EvaluationReport, evaluate, predict_with
from steps.evaluation.slices import MIN_SLICE_ROWS, slice_metrics

MLFLOW_DIR = "evaluation"  # run artifact folder of the figures and tables


def evaluate_holdout(model: Any, holdout: pd.DataFrame, features: List[str], categorical: List[str], target: str,
                     task: str, *, min_slice_rows: int = MIN_SLICE_ROWS) -> tuple[EvaluationReport, pd.DataFrame]:
    """The model's report on `holdout` (with permutation importance and per-slice scores) and its predictions."""
    X, y = holdout[features], holdout[target]
    y_pred, y_proba, classes = predict_with(model, X, task)
    report = evaluate(y, y_pred, task, y_proba, classes)
    report = dataclasses.replace(
        report,
        importance=holdout_importance(model, X, y, task),
        slices=slice_metrics(holdout, [c for c in categorical if c in holdout.columns], y, y_pred, y_proba, task,
                             classes, min_slice_rows),
        min_slice_rows=min_slice_rows,
    )
    predictions = pd.DataFrame({"prediction": y_pred})
    if y_proba is not None:
        for i, cls in enumerate(classes):
            predictions[f"proba_{cls}"] = y_proba[:, i]
    return report, predictions


def log_evaluation(report: EvaluationReport) -> Dict[str, str]:
    """Logs the holdout metrics, every figure and the importance and slice tables to the active MLflow run.
    Returns figure name -> artifact path."""
    import mlflow

    from steps.evaluation.figures import close, report_figures

    mlflow.log_metrics({f"holdout_{k}": v for k, v in report.metrics.items()})
    figures = report_figures(report)
    paths = {}
    try:
        for name, fig in figures.items():
            paths[name] = f"{MLFLOW_DIR}/{name}.png"
            mlflow.log_figure(fig, paths[name])
    finally:
        close(figures)
    if report.importance:
        mlflow.log_dict({"scoring": report.primary_metric, "features": report.importance},
                        f"{MLFLOW_DIR}/permutation_importance.json")
    if report.slices:
        mlflow.log_dict({"metric": report.primary_metric, "min_rows": report.min_slice_rows, "slices": report.slices},
                        f"{MLFLOW_DIR}/slices.json")
    return paths
