"""Batch monitoring pipeline: validate -> profile -> drift vs the champion's training data -> score through the
endpoint -> prediction drift -> decay (when labelled) -> decision -> Prometheus."""

from typing import Any, Dict

from zenml import pipeline

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
def monitoring_pipeline(model_name: str, batch_source: Dict[str, Any], monitoring: Dict[str, Any]) -> None:
    """Watches one batch; a batch that fails validation is rejected before it is scored."""
    batch, n_rows = load_batch(batch_source)
    schema, reference_profile, reference_predictions, reference_evaluation = fetch_champion_reference(model_name)
    report = validate_batch(batch, schema)
    passed = batch_quality_gate(report)
    profile = profile_batch(batch, schema, passed)
    drift = detect_feature_drift(reference_profile, profile, schema, monitoring["drift"])
    predictions = score_batch(batch, schema, monitoring["deployment_name"], passed)
    prediction_drift = detect_prediction_drift(reference_predictions, predictions, schema, monitoring["drift"])
    decay = measure_decay(batch, predictions, schema, reference_evaluation, monitoring["max_drop"])
    decision = decide_action(drift, prediction_drift, decay, monitoring["policy"])
    publish_monitoring_metrics(decision, drift, prediction_drift, decay, model_name, n_rows)
