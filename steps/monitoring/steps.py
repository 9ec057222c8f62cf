"""ZenML steps of the monitoring stage: validate a batch, profile it, compare with the champion's training data,
score it through the endpoint, measure decay when labels exist, decide, and publish the results to Prometheus."""

from __future__ import annotations

import logging
from typing import Any, Dict, Optional, Tuple

import pandas as pd
from typing_extensions import Annotated
from zenml import step

import materializers.project_materializers  # noqa: F401  (registers the project's materializers)
from core.config import AlertsSection, DriftSection, PolicySection
from core import names
from steps.data.schema import DataSchema
from steps.data.validation import ValidationReport
from steps.evaluation.metrics import EvaluationReport
from steps.monitoring.decay import DecayReport
from steps.monitoring.decision import MonitoringDecision
from steps.monitoring.drift import DriftReport
from steps.monitoring.estimated_decay import EstimatedDecayReport

logger = logging.getLogger(__name__)


@step
def validate_batch(batch: pd.DataFrame, schema: DataSchema) -> Annotated[ValidationReport, names.VALIDATION_REPORT]:
    """The checks the champion's training data defined (columns, types, ranges, nulls); labels optional."""
    from steps.data.validation import validate_batch_frame

    report = validate_batch_frame(batch, schema.contract)
    (logger.info if report.passed else logger.error)(report.summary())
    return report


@step
def batch_quality_gate(report: ValidationReport) -> Annotated[bool, "batch_quality_passed"]:
    """A batch that fails validation is never scored."""
    from steps.data.validation import require_valid

    require_valid(report)
    return True


@step
def profile_batch(batch: pd.DataFrame, schema: DataSchema, gate_passed: bool) -> Annotated[Any, names.BATCH_PROFILE]:
    import materializers.whylogs_profile  # noqa: F401  (registers the profile materializer for this output)
    from steps.data.profiling import profile_frame

    return profile_frame(batch[[c for c in batch.columns if c != schema.target]])


@step
def detect_feature_drift(
    reference_profile: Any, batch_profile: Any, schema: DataSchema, drift: DriftSection
) -> Annotated[DriftReport, names.DRIFT_REPORT]:
    """Hellinger distance per feature against the champion's training profile, gated by per-feature thresholds."""
    from steps.monitoring.drift import compute_drift

    report = compute_drift(reference_profile, batch_profile, columns=schema.features,
                           thresholds=drift.thresholds, default_threshold=drift.default_threshold)
    logger.info("feature drift: %d of %d features drifted (max Hellinger %.3f): %s", len(report.drifted_columns),
                len(report.columns), report.max_hellinger, ", ".join(report.drifted_columns) or "none")
    return report


@step(enable_cache=False)
def score_batch(
    batch: pd.DataFrame, schema: DataSchema, deployment_name: str, gate_passed: bool
) -> Annotated[pd.DataFrame, names.BATCH_PREDICTIONS]:
    """Predictions for every row, through the deployed endpoint (what production would answer)."""
    from steps.deployment.endpoint_client import predict, predictions_frame
    from steps.deployment.rollout import active_deployer

    info = active_deployer().status(deployment_name)
    if info is None or info.state != "active":
        raise RuntimeError(f"no active deployment '{deployment_name}': run `python run.py deploy` first")
    out_names, values = predict(info.url, batch[schema.features])
    predictions = predictions_frame(out_names, values)
    logger.info("scored %d rows through %s (model v%s)", len(predictions), info.url, info.model_version)
    return predictions


@step
def detect_prediction_drift(
    reference_predictions: pd.DataFrame, batch_predictions: pd.DataFrame, schema: DataSchema, drift: DriftSection
) -> Annotated[DriftReport, names.PREDICTION_DRIFT_REPORT]:
    """Drift of the predicted distribution: the champion's holdout predictions vs this batch's."""
    from steps.data.profiling import profile_frame
    from steps.monitoring.drift import compute_drift

    kind = {"prediction": str} if schema.task != "regression" else {}
    reference = reference_predictions.astype(kind)
    current = batch_predictions.astype(kind)
    common = [c for c in reference.columns if c in current.columns]
    return compute_drift(profile_frame(reference[common]), profile_frame(current[common]), columns=common,
                         default_threshold=drift.prediction_threshold)


@step
def measure_decay(
    batch: pd.DataFrame, batch_predictions: pd.DataFrame, schema: DataSchema, reference: EvaluationReport,
    max_drop: Dict[str, Dict[str, float]],
) -> Annotated[Optional[DecayReport], names.DECAY_REPORT]:
    """When the batch carries labels: its metrics against the champion's holdout metrics."""
    from steps.monitoring.decay import evaluate_decay

    if schema.target not in batch.columns or batch[schema.target].isna().all():
        logger.info("no labels in this batch: decay is measured when they arrive")
        return None
    labelled = batch[schema.target].notna().to_numpy()
    y_true = batch.loc[labelled, schema.target].to_numpy()
    if schema.task == "regression":
        y_pred, y_proba, classes = batch_predictions["prediction"].to_numpy()[labelled], None, None
    else:
        proba_cols = [c for c in batch_predictions.columns if c.startswith("proba_")]
        classes = [type(schema.classes[0])(c.removeprefix("proba_")) for c in proba_cols] if schema.classes else None
        y_proba = batch_predictions.loc[labelled, proba_cols].to_numpy()
        y_pred = [classes[i] for i in y_proba.argmax(axis=1)]
    report = evaluate_decay(y_true, y_pred, y_proba, schema.task, reference.metrics,
                            max_drop=max_drop[schema.task], classes=classes)
    logger.info("decay: %s", "; ".join(report.reasons) or "within limits")
    return report


@step
def estimate_performance(
    holdout: pd.DataFrame, reference_predictions: pd.DataFrame, batch_predictions: pd.DataFrame, batch: pd.DataFrame,
    schema: DataSchema, reference: EvaluationReport, max_drop: Dict[str, Dict[str, float]],
    decay: Optional[DecayReport],
) -> Annotated[Optional[EstimatedDecayReport], names.ESTIMATED_DECAY_REPORT]:
    """Performance estimated without labels (fitted on the champion's holdout) against its holdout metrics, shown
    next to the realized metrics when the batch has labels; None for a task without an estimate."""
    from steps.monitoring.estimated import estimate_batch
    from steps.monitoring.estimated_decay import evaluate_estimated_decay

    got = estimate_batch(schema.task, holdout, reference_predictions, batch_predictions, schema.target,
                         schema.classes, schema.features, batch)
    if got is None:
        logger.info("no performance estimate for a %s model on %d rows", schema.task, len(batch_predictions))
        return None
    estimates, method, calibration = got
    report = evaluate_estimated_decay(
        estimates, reference.metrics, max_drop[schema.task], task=schema.task, method=method,
        n_rows=len(batch_predictions), realized=None if decay is None else decay.current_metrics,
        calibration=calibration)
    logger.info("estimated performance (%s): %s; %s", method, ", ".join(
        f"{k} {v['estimate']:.4f} [{v['lower']:.4f}, {v['upper']:.4f}]" for k, v in sorted(estimates.items())),
        "; ".join(report.reasons) or "within limits")
    return report


@step(enable_cache=False)
def decide_action(
    drift: DriftReport, prediction_drift: DriftReport, decay: Optional[DecayReport], policy: PolicySection,
    estimated: Optional[EstimatedDecayReport] = None,
) -> Annotated[MonitoringDecision, names.MONITORING_DECISION]:
    """none / alert / retrain, with every reason; without labels the estimated decay stands in for decay."""
    from steps.monitoring.decision import decide

    decision = decide(drift, decay, policy, prediction_drift=prediction_drift, estimated=estimated)
    logger.info("monitoring decision: %s%s", decision.action,
                "".join(f"\n  - {r}" for r in decision.reasons))
    return decision


@step(enable_cache=False)
def notify_decision(decision: MonitoringDecision, model_name: str,
                    alerts: Optional[AlertsSection] = None) -> Annotated[bool, "decision_notified"]:
    """Tells someone (the stack's alerter, to the webhook of the run's monitoring config) when monitoring decided to
    alert or retrain. A step, not a success hook: a hook cannot see the decision the step returned."""
    from zenml import get_step_context

    from steps.hooks import notify_decision as notify

    return notify(model_name, decision.action, list(decision.reasons), get_step_context().pipeline_run.name,
                  alerts.model_dump(mode="json") if alerts else None)


@step(enable_cache=False)
def publish_monitoring_metrics(
    decision: MonitoringDecision, drift: DriftReport, prediction_drift: DriftReport, decay: Optional[DecayReport],
    model_name: str, n_rows: int, live: bool = False, estimated: Optional[EstimatedDecayReport] = None,
) -> Annotated[str, "published_to"]:
    """Pushes drift, accuracy, estimated performance and the decision to the Pushgateway when local monitoring runs
    ("" when not pushed);
    live traffic's results as a group of their own (source="live": drift per check over time in Grafana)."""
    from monitoring import local
    from monitoring import metrics as m
    from monitoring.push import monitoring_metrics, publish_monitoring_results

    status = local.status()
    gateway = status.get("pushgateway_url") if status.get("running") else None
    if not gateway:
        logger.info("monitoring stack not running (`python run.py monitoring up`): results not pushed")
        return ""
    metrics = monitoring_metrics(drift, decay, decision, prediction_drift=prediction_drift, n_rows=n_rows,
                                 estimated=estimated)
    source = m.LIVE_SOURCE if live else None
    return publish_monitoring_results(gateway, model_name, metrics, source=source)  # bounded; a fault only warns


@step(enable_cache=False)
def load_batch(batch_source: Dict[str, Any]) -> Tuple[Annotated[pd.DataFrame, "batch"], Annotated[int, "batch_rows"]]:
    """A batch from a file, or from the generator ({'generator': {'n_rows', 'seed', 'drift', 'day'}})."""
    from steps.data.generator import generate_batch
    from steps.data.sources import load_table

    if "generator" in batch_source:
        batch = generate_batch(**batch_source["generator"])
    else:
        batch = load_table(batch_source["path"])
    logger.info("batch: %d rows, %d columns", len(batch), batch.shape[1])
    return batch, len(batch)
