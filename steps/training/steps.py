"""ZenML steps of the training stage: fit the servable pipeline with a CV search, then register it in MLflow."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Dict, Tuple

import pandas as pd
from sklearn.pipeline import Pipeline
from typing_extensions import Annotated
from zenml import get_step_context, log_metadata, step

import materializers.project_materializers  # noqa: F401  (registers the project's materializers)
from core.config import CalibrationSection, EvaluationSection, TrainingSection
from core import names
from steps.data.rows import SplitManifest
from steps.data.schema import DataSchema
from steps.evaluation.metrics import EvaluationReport
from steps.evaluation.model_card import ModelCardReport
from steps.training.calibration import CalibrationReport
from steps.training.registered_model import RegisteredModel
from steps.training.search import SearchReport

logger = logging.getLogger(__name__)


@step(experiment_tracker=True)
def train_model(
    train_set: pd.DataFrame, schema: DataSchema, split_manifest: SplitManifest, training: TrainingSection
) -> Tuple[Annotated[Pipeline, names.UNCALIBRATED_MODEL], Annotated[SearchReport, names.SEARCH_REPORT]]:
    """Fits preprocessing + estimator as one Pipeline, choosing hyper-parameters by CV on the training split (minus
    the rows the manifest sets aside for calibration)."""
    import mlflow

    from steps.training.calibration import split_off
    from steps.training.model_factory import build_model, search_space
    from steps.training.search import tune
    from steps.training.tracking import log_candidate_runs

    model = build_model(schema.numeric, schema.categorical, schema.task, training.estimator, training.params,
                        training.seed)
    search = training.search
    grid = search_space(search.space, training.estimator, schema.task)
    train_set, _ = split_off(train_set, split_manifest.calibration_mask(train_set))
    X, y = train_set[schema.features], train_set[schema.target]
    fitted, report, fit_seconds = tune(model, X, y, schema.task, grid, method=search.method,
                                       cv_folds=search.cv_folds, n_iter=search.n_iter, scoring=search.scoring,
                                       seed=training.seed)
    logger.info("search: best %s=%.4f with %s", report.scoring, report.best_score, report.best_params)
    log_candidate_runs(report, fit_seconds)
    mlflow.log_params({"estimator": training.estimator, "task": schema.task, "n_train_rows": len(train_set),
                       "features": ",".join(schema.features)[:500], "cv_folds": report.cv_folds,
                       **{f"param.{k}": v for k, v in report.best_params.items()}})
    if report.candidates:
        mlflow.log_metric(f"cv_{report.scoring}", report.best_score)
    return fitted, report


@step(experiment_tracker=True)
def calibrate_model(
    model: Pipeline, train_set: pd.DataFrame, holdout_set: pd.DataFrame, schema: DataSchema,
    split_manifest: SplitManifest, calibration: CalibrationSection,
) -> Tuple[Annotated[Pipeline, names.MODEL], Annotated[CalibrationReport, names.CALIBRATION_REPORT]]:
    """Calibrates the classifier on the training rows set aside for it (each configured method), keeping the option
    with the lowest holdout log loss (uncalibrated included)."""
    import mlflow

    from steps.training.calibration import UNCALIBRATED, choose_calibration, split_off

    _, aside = split_off(train_set, split_manifest.calibration_mask(train_set))
    methods = calibration.methods if schema.task != "regression" else []
    chosen, report = choose_calibration(model, aside[schema.features], aside[schema.target],
                                        holdout_set[schema.features], holdout_set[schema.target], methods)
    if report.tried:
        mlflow.log_param("calibration", report.chosen)
        mlflow.log_metrics({f"calibration_log_loss_{k}": v for k, v in report.holdout_log_loss.items()})
    logger.info("calibration: %s", report.summary())
    if report.chosen == UNCALIBRATED and report.tried:
        logger.info("calibration: no method lowered the holdout log loss; the model stays uncalibrated")
    return chosen, report


@step(experiment_tracker=True)
def evaluate_model(
    model: Pipeline, holdout_set: pd.DataFrame, schema: DataSchema, calibration: CalibrationReport,
    evaluation: EvaluationSection,
) -> Tuple[Annotated[EvaluationReport, names.EVALUATION_REPORT], Annotated[pd.DataFrame, names.HOLDOUT_PREDICTIONS]]:
    """Holdout metrics, calibration, figures, permutation importance, slices and behaviour checks, logged to MLflow
    and to the ZenML model version."""
    from steps.evaluation.behaviour import failed
    from steps.evaluation.holdout import evaluate_holdout, log_evaluation

    report, predictions = evaluate_holdout(model, holdout_set, schema.features, schema.categorical, schema.numeric,
                                           schema.target, schema.task, evaluation)
    report = dataclasses.replace(report, calibration_choice=calibration.to_dict())
    log_evaluation(report)
    log_metadata(metadata={"holdout": report.metrics}, infer_model=True)
    logger.info("holdout: %s", ", ".join(f"{k}={v:.4f}" for k, v in report.metrics.items()))
    for result in report.behaviour:
        logger.info("behaviour check %s: %s (%s)", result["name"], "pass" if result["passed"] else "FAIL",
                    result["detail"])
    if failed(report.behaviour):
        logger.warning("behaviour checks failed: %s (the deployment gate refuses this model when "
                       "gate.block_on_behaviour is true)", ", ".join(r["name"] for r in failed(report.behaviour)))
    return report, predictions


@step(experiment_tracker=True)
def register_model(
    model: Pipeline,
    holdout_set: pd.DataFrame,
    schema: DataSchema,
    evaluation: EvaluationReport,
    config_digest: str,
    model_name: str,
) -> Annotated[RegisteredModel, names.REGISTERED_MODEL]:
    """Logs the model (skops, signature, input example, lineage tags) and registers it as the `challenger`."""
    import mlflow

    from steps.training.tracking import lineage_tags, log_model_and_register

    context = get_step_context()
    tags = lineage_tags(data_fingerprint=schema.fingerprint, config_digest=config_digest,
                        zenml_run_id=str(context.pipeline_run.id), zenml_run_name=context.pipeline_run.name)
    mlflow.set_tags(tags)
    registered = log_model_and_register(model, holdout_set[schema.features].head(5), schema.task, model_name, tags)
    result = RegisteredModel(**registered, task=schema.task, primary_metric=evaluation.primary_metric,
                             primary_value=evaluation.primary_value, data_fingerprint=schema.fingerprint,
                             git_commit=tags["git_commit"], tracking_uri=mlflow.get_tracking_uri())
    log_metadata(metadata={"mlflow_model": registered, "data_fingerprint": schema.fingerprint}, infer_model=True)
    logger.info("registered %s as '%s' (MLflow run %s, data %s)", result.identity, result.alias, result.run_id,
                result.data_fingerprint[:19])
    return result


@step
def write_model_card(
    registered: RegisteredModel, schema: DataSchema, evaluation: EvaluationReport, search_report: SearchReport
) -> Annotated[ModelCardReport, names.MODEL_CARD]:
    """The version's model card (intended use from the ZenML model, i.e. the config's `model:` block), attached to
    the MLflow model version; its HTML view is the card in the dashboard."""
    from steps.evaluation.model_card import INTENDED_USE_FIELDS, attach_card, build_card

    zenml_model = get_step_context().model
    intended_use = {k: getattr(zenml_model, k, None) for k in INTENDED_USE_FIELDS}
    card = build_card(intended_use, registered, schema, evaluation, search_report)
    attach_card(card, registered.tracking_uri)
    logger.info("model card of %s version %s attached to the MLflow model version", card.name, card.version)
    return card
