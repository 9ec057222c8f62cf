"""Training pipeline: ingest -> profile -> validate (gate) -> split -> train -> calibrate -> evaluate -> register
challenger -> model card."""

from zenml import pipeline

from core.config import DataSection, EvaluationSection, SplitSection, TrainingSection, ValidationSection
from steps.hooks import notify_failure
from steps.data.steps import data_quality_gate, ingest_data, profile_data, split_dataset, validate_data
from steps.training.steps import calibrate_model, evaluate_model, register_model, train_model, write_model_card


@pipeline(on_failure=notify_failure)
def training_pipeline(
    data: DataSection,
    validation: ValidationSection,
    split: SplitSection,
    training: TrainingSection,
    evaluation: EvaluationSection,
    model_name: str,
    config_digest: str,
    source_fingerprint: str,
) -> None:
    """Trains, evaluates and registers a challenger model; a batch failing validation stops before training.
    The sections are the validated training config: every default lives once, in core/config.py. A failed step
    is posted by the stack's alerter."""
    dataset, schema = ingest_data(data, validation, source_fingerprint)
    profile = profile_data(dataset)
    report = validate_data(profile, schema, validation)
    passed = data_quality_gate(report)
    train_set, holdout_set, manifest = split_dataset(dataset, schema, passed, split, training.calibration)
    fitted, search = train_model(train_set, schema, manifest, training)
    model, calibration = calibrate_model(fitted, train_set, holdout_set, schema, manifest, training.calibration)
    holdout_report, _ = evaluate_model(model, holdout_set, schema, calibration, evaluation)
    registered = register_model(model, holdout_set, schema, holdout_report, config_digest, model_name)
    write_model_card(registered, schema, holdout_report, search)
