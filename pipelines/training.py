"""Training pipeline: ingest -> profile -> validate (gate) -> split -> train -> evaluate -> register challenger ->
model card."""

from typing import Any, Dict, Optional

from zenml import pipeline

from steps.data.steps import data_quality_gate, ingest_data, profile_data, split_dataset, validate_data
from steps.training.steps import evaluate_model, register_model, train_model, write_model_card


@pipeline
def training_pipeline(
    data: Dict[str, Any],
    validation: Dict[str, Any],
    split: Dict[str, Any],
    training: Dict[str, Any],
    model_name: str,
    config_digest: str,
    source_fingerprint: Optional[str] = "",
) -> None:
    """Trains, evaluates and registers a challenger model; a batch failing validation stops before training."""
    dataset, schema = ingest_data(
        source=data["source"], target=data["target"], task=data["task"], n_rows=data["n_rows"], seed=data["seed"],
        source_fingerprint=source_fingerprint, null_slack=validation["null_slack"],
        range_slack=validation["range_slack"], min_rows=validation["min_rows"],
        max_null_fraction=validation["max_null_fraction"], leakage_threshold=validation["leakage_threshold"],
        drop_columns=data["drop_columns"],
    )
    profile = profile_data(dataset)
    report = validate_data(profile, schema, min_rows=validation["min_rows"],
                           max_null_fraction=validation["max_null_fraction"])
    passed = data_quality_gate(report)
    train_set, holdout_set, _ = split_dataset(dataset, schema, passed, split)
    model, search = train_model(train_set, schema, training)
    evaluation, _ = evaluate_model(model, holdout_set, schema)
    registered = register_model(model, holdout_set, schema, evaluation, config_digest, model_name)
    write_model_card(registered, schema, evaluation, search)
