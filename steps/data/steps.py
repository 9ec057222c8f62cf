"""ZenML steps of the data stage: ingest, profile, validate (and gate), split. Logic lives in the plain modules."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Tuple

import pandas as pd
from typing_extensions import Annotated
from zenml import log_metadata, step

import materializers.project_materializers  # noqa: F401  (registers the project's materializers)
from core.config import CalibrationSection, DataSection, SplitSection, ValidationSection
from core import names
from steps.data.rows import SplitManifest
from steps.data.schema import DataSchema
from steps.data.validation import ValidationReport

logger = logging.getLogger(__name__)


@step
def ingest_data(
    data: DataSection, validation: ValidationSection, source_fingerprint: str
) -> Tuple[Annotated[pd.DataFrame, names.DATASET], Annotated[DataSchema, names.DATA_SCHEMA]]:
    """Loads the data, decides what each column becomes, fingerprints it and infers the contract for later batches.

    Columns with more than `validation.max_null_fraction` missing values are dropped (with the reason), and so are
    `data.drop_columns`; features that alone predict the target with a holdout score >=
    `validation.leakage_threshold` are named as possible leakage. `source_fingerprint` is the content hash of a file
    source, passed in so that a changed file is never served from the step cache.
    """
    from steps.data.columns import detect_task, plan_features, prepare_target
    from core.frames import normalize_missing
    from steps.data.fingerprint import fingerprint_frame
    from steps.data.leakage import find_leaks
    from steps.data.sources import load_dataset
    from steps.data.validation import infer_contract

    loaded = load_dataset(data.source, target=data.target, n_rows=data.n_rows, seed=data.seed)
    resolved_task = detect_task(loaded.frame[loaded.target], None if data.task == "auto" else data.task)
    frame, n_dropped = prepare_target(normalize_missing(loaded.frame), loaded.target, resolved_task)
    plan = plan_features(frame, loaded.target, resolved_task, max_null_fraction=validation.max_null_fraction,
                         drop_columns=data.drop_columns)
    decisions = plan.describe()
    if n_dropped:
        decisions.append(f"{loaded.target}: {n_dropped} row(s) without a target dropped")
    for line in decisions:
        logger.info("column %s", line)
    warnings = [leak.message(loaded.target) for leak in find_leaks(frame, plan, validation.leakage_threshold, seed=data.seed)]
    contract = infer_contract(frame, plan, min_rows=validation.min_rows, null_slack=validation.null_slack,
                              range_slack=validation.range_slack)
    fingerprint = fingerprint_frame(frame)
    classes = [] if resolved_task == "regression" else sorted(frame[loaded.target].unique().tolist())
    schema = DataSchema(
        source=loaded.source,
        fingerprint=fingerprint,
        n_rows=len(frame),
        target=loaded.target,
        task=resolved_task,
        numeric=plan.numeric,
        categorical=plan.categorical,
        dropped=plan.dropped,
        decisions=decisions,
        contract=contract.to_dict(),
        classes=[c.item() if hasattr(c, "item") else c for c in classes],
        warnings=warnings,
    )
    log_metadata(
        metadata={"data_fingerprint": fingerprint, "rows": len(frame), "task": resolved_task,
                  "source": loaded.source, "source_fingerprint": source_fingerprint},
        infer_model=True,
    )
    return frame, schema


@step
def profile_data(dataset: pd.DataFrame) -> Annotated[Any, names.DATA_PROFILE]:
    """whylogs profile of the dataset, through the stack's data validator (the monitoring reference)."""
    from zenml.client import Client

    import materializers.whylogs_profile  # noqa: F401  (registers the profile materializer for this output)

    validator = Client().active_stack.data_validator
    if validator is not None:
        return validator.data_profiling(dataset)
    from steps.data.profiling import profile_frame

    return profile_frame(dataset)


@step
def validate_data(
    profile: Any, schema: DataSchema, validation: ValidationSection
) -> Annotated[ValidationReport, names.VALIDATION_REPORT]:
    """Checks the training data (as its whylogs profile) for quality: rows, nulls, types, target classes; the
    report repeats the schema's warnings (possible leakage) and says how to go on after a failure."""
    from steps.data.gate import check_training_data

    report = check_training_data(profile, schema, min_rows=validation.min_rows,
                                 max_null_fraction=validation.max_null_fraction)
    (logger.info if report.passed else logger.error)(report.summary())
    for line in report.warnings:
        logger.warning(line)
    return report


@step
def data_quality_gate(report: ValidationReport) -> Annotated[bool, "data_quality_passed"]:
    """Stops the pipeline before training when validation failed; the report artifact says why."""
    from steps.data.validation import require_valid

    require_valid(report)
    return True


@step
def split_dataset(
    dataset: pd.DataFrame,
    schema: DataSchema,
    gate_passed: bool,
    split: SplitSection,
    calibration: CalibrationSection,
) -> Tuple[Annotated[pd.DataFrame, names.TRAIN_SET], Annotated[pd.DataFrame, names.HOLDOUT_SET],
           Annotated[SplitManifest, names.SPLIT_MANIFEST]]:
    """Seeded random split (stratified for classification) or time split (hold out the most recent rows); the
    manifest records both sides by row fingerprint, and the training rows set aside for calibration (when
    configured for a classifier). Runs only after the quality gate passed."""
    from steps.training.split import calibration_rows, first_holdout_time, split_frame, timestamp_column

    method = split.method
    time_column = timestamp_column(schema.dropped, split.time_column) if method == "time" else None
    notes = []
    if method == "time" and time_column is None:
        notes.append("no timestamp column: the table's row order is taken as time order")
    train, holdout = split_frame(dataset, schema.target, schema.task, test_size=split.test_size, seed=split.seed,
                                 method=method, time_column=time_column, holdout_rows=split.holdout_rows)
    calibrate = calibration.enabled and schema.task != "regression"
    if calibration.enabled and not calibrate:
        notes.append("training.calibration is set but a regression model has no probabilities: not calibrated")
    set_aside = (calibration_rows(train, schema.target, schema.task, calibration.share, split.seed)
                 if calibrate else None)
    manifest = SplitManifest.build(train, holdout, method, time_column, first_holdout_time(holdout, time_column),
                                   notes, calibration=set_aside)
    where = f" by '{time_column}', holdout from {manifest.cutoff}" if time_column else ""
    aside = f" ({manifest.n_calibration} of them set aside for calibration)" if manifest.n_calibration else ""
    logger.info("%s split%s: %d training rows%s, %d holdout rows", method, where, len(train), aside, len(holdout))
    for note in notes:
        logger.info("split: %s", note)
    return train, holdout, manifest
