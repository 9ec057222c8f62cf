"""Batch monitoring pipeline: validate -> profile -> drift vs the champion's training data -> score through the
endpoint -> prediction drift -> decay (when labelled) -> decision -> Prometheus."""

from typing import Any, Dict

from zenml import pipeline

from core.config import DriftSection, PolicySection

from steps.monitoring.steps import (
    load_batch,
    batch_quality_gate,
    decide_action,
    detect_feature_drift,
    detect_prediction_drift,
    fetch_champion_reference,
    measure_decay,
    profile_batch,
    publish_monitoring_metrics,
    score_batch,
    validate_batch,
)


@pipeline(enable_cache=False)
def monitoring_pipeline(
    model_name: str,
    batch_source: Dict[str, Any],
    deployment_name: str,
    drift_settings: DriftSection,
    max_drop: Dict[str, Dict[str, float]],
    policy: PolicySection,
) -> None:
    """Watches one batch of `model_name` (scored by `deployment_name`); a batch that fails validation is rejected
    before it is scored. The settings are the validated monitoring config sections."""
    batch, n_rows = load_batch(batch_source)
    schema, reference_profile, reference_predictions, reference_evaluation = fetch_champion_reference(model_name)
    report = validate_batch(batch, schema)
    passed = batch_quality_gate(report)
    profile = profile_batch(batch, schema, passed)
    drift = detect_feature_drift(reference_profile, profile, schema, drift_settings)
    predictions = score_batch(batch, schema, deployment_name, passed)
    prediction_drift = detect_prediction_drift(reference_predictions, predictions, schema, drift_settings)
    decay = measure_decay(batch, predictions, schema, reference_evaluation, max_drop)
    decision = decide_action(drift, prediction_drift, decay, policy)
    publish_monitoring_metrics(decision, drift, prediction_drift, decay, model_name, n_rows)
