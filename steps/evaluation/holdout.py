"""The full holdout evaluation of a trained model (metrics, calibration, importance, slices, behaviour checks) and
its record in MLflow: plain functions that the evaluation step calls."""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List

import pandas as pd

from core.config import EvaluationSection
from steps.evaluation.behaviour import run_checks
from steps.evaluation.importance import holdout_importance
from steps.evaluation.metrics import EvaluationReport, evaluate, predict_with
from steps.evaluation.slices import resolve_bins, slice_metrics

MLFLOW_DIR = "evaluation"  # run artifact folder of the figures and tables


def evaluate_holdout(model: Any, holdout: pd.DataFrame, features: List[str], categorical: List[str],
                     numeric: List[str], target: str, task: str, settings: EvaluationSection
                     ) -> tuple[EvaluationReport, pd.DataFrame]:
    """The model's report on `holdout` (with permutation importance, per-slice scores and the behaviour checks of
    `settings`) and its predictions."""
    X, y = holdout[features], holdout[target]
    y_pred, y_proba, classes = predict_with(model, X, task)
    report = evaluate(y, y_pred, task, y_proba, classes)
    bins = resolve_bins([c for c in numeric if c in holdout.columns], settings.numeric_slice_bins,
                        settings.slice_bins)
    report = dataclasses.replace(
        report,
        importance=holdout_importance(model, X, y, task, repeats=settings.importance_repeats,
                                      max_rows=settings.importance_max_rows, seed=settings.importance_seed),
        slices=slice_metrics(holdout, [c for c in categorical if c in holdout.columns], y, y_pred, y_proba, task,
                             classes, settings.min_slice_rows, bins),
        min_slice_rows=settings.min_slice_rows,
        slice_bins=bins,
        behaviour=run_checks(model, holdout, features, target, task, settings.behaviour_checks),
    )
    predictions = pd.DataFrame({"prediction": y_pred})
    if y_proba is not None:
        for i, cls in enumerate(classes):
            predictions[f"proba_{cls}"] = y_proba[:, i]
    return report, predictions


def log_evaluation(report: EvaluationReport) -> Dict[str, str]:
    """Logs the holdout metrics, every figure, the importance and slice tables and the behaviour checks to the
    active MLflow run. Returns figure name -> artifact path."""
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
        mlflow.log_dict({"metric": report.primary_metric, "min_rows": report.min_slice_rows,
                         "numeric_bins": report.slice_bins, "slices": report.slices}, f"{MLFLOW_DIR}/slices.json")
    if report.behaviour:
        mlflow.log_dict({"checks": report.behaviour}, f"{MLFLOW_DIR}/behaviour_checks.json")
        mlflow.log_metrics({f"behaviour_{r['name']}_passed": float(r["passed"]) for r in report.behaviour})
        mlflow.set_tag("behaviour_checks", "passed" if all(r["passed"] for r in report.behaviour) else
                       "failed: " + ", ".join(r["name"] for r in report.behaviour if not r["passed"]))
    return paths
