"""Monitoring pipeline: validate -> profile -> drift vs the champion's training data -> score through the
endpoint -> prediction drift -> decay (when labelled) and performance estimated from the predictions (the
decision's stand-in for decay before labels arrive) -> decision -> Prometheus.

Two sources, one pipeline: a batch (a file or the generator), or live traffic (`batch_source={"live": ...}`): the
windows the endpoint recorded since the last check (chosen by a step, so a scheduled run reads new windows each
time), already profiled and scored by the endpoint itself, with labels fed back; the checkpoint moves only after the
run's decision and metrics went out."""

from typing import Any, Dict, Optional

from zenml import Model, pipeline

from core import names
from core.config import AlertsSection, DriftSection, PolicySection
from steps.hooks import notify_failure

from steps.monitoring.live_steps import advance_live_checkpoint, load_live_traffic, select_live_windows
from steps.monitoring.steps import (
    load_batch,
    batch_quality_gate,
    decide_action,
    estimate_performance,
    detect_feature_drift,
    detect_prediction_drift,
    measure_decay,
    notify_decision,
    profile_batch,
    publish_monitoring_metrics,
    score_batch,
    validate_batch,
)


@pipeline(enable_cache=False, on_failure=notify_failure)
def monitoring_pipeline(
    model_name: str,
    batch_source: Dict[str, Any],
    deployment_name: str,
    drift_settings: DriftSection,
    max_drop: Dict[str, Dict[str, float]],
    policy: PolicySection,
    alerts: Optional[AlertsSection] = None,
) -> None:
    """Watches one batch of `model_name` (scored by `deployment_name`), or the traffic its endpoint served
    (`batch_source={"live": ...}`); a batch that fails validation is rejected before it is scored. The settings are
    the validated monitoring config sections. A failure (a rejected batch included) and an alert/retrain decision
    are posted by the stack's alerter."""
    # The serving champion's training artifacts (its ZenML model version in stage `production`), linked as the steps'
    # inputs rather than copied by a step: the run shows the very artifacts the champion was trained and evaluated
    # with, and no run rewrites them (a copy cost ~1.3 s per run: four writes and the evaluation report's figures).
    champion = Model(name=model_name, version=names.PRODUCTION_STAGE)
    schema = champion.get_artifact(names.DATA_SCHEMA)
    reference_profile = champion.get_artifact(names.DATA_PROFILE)
    reference_predictions = champion.get_artifact(names.HOLDOUT_PREDICTIONS)
    reference_evaluation = champion.get_artifact(names.EVALUATION_REPORT)
    if "live" in batch_source:
        live_windows = select_live_windows(batch_source["live"])
        batch, features, predictions, profile, n_rows = load_live_traffic(live_windows, schema)
        batch_quality_gate(validate_batch(features, schema))  # labels arrive late: most rows have none yet
    else:
        batch, n_rows = load_batch(batch_source)
        passed = batch_quality_gate(validate_batch(batch, schema))
        profile = profile_batch(batch, schema, passed)
        predictions = score_batch(batch, schema, deployment_name, passed)
    drift = detect_feature_drift(reference_profile, profile, schema, drift_settings)
    prediction_drift = detect_prediction_drift(reference_predictions, predictions, schema, drift_settings)
    decay = measure_decay(batch, predictions, schema, reference_evaluation, max_drop)
    holdout = champion.get_artifact(names.HOLDOUT_SET)  # with labels: what the performance estimates are fitted on
    estimated = estimate_performance(holdout, reference_predictions, predictions, batch, schema, reference_evaluation,
                                     max_drop, decay)
    decision = decide_action(drift, prediction_drift, decay, policy, estimated)
    notify_decision(decision, model_name, alerts)
    publish_monitoring_metrics(decision, drift, prediction_drift, decay, model_name, n_rows,
                               live="live" in batch_source, estimated=estimated)
    if "live" in batch_source:
        advance_live_checkpoint(live_windows, decision, after="publish_monitoring_metrics")
