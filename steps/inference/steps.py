"""ZenML steps of batch inference: load a file, validate it against the model version's training contract, and
score it in-process with that version's registered model. The pipeline runs in the ZenML model version's context,
so every output (the predictions too) is linked to it."""

from __future__ import annotations

import logging

import pandas as pd
from typing_extensions import Annotated
from zenml import log_metadata, step

import materializers.project_materializers  # noqa: F401  (registers the project's materializers)
from core import names
from steps.data.schema import DataSchema
from steps.data.validation import ValidationReport

logger = logging.getLogger(__name__)


@step(enable_cache=False)
def load_inference_batch(path: str) -> Annotated[pd.DataFrame, names.INFERENCE_BATCH]:
    """The rows to score, from a CSV or Parquet file."""
    from steps.data.sources import load_table

    batch = load_table(path)
    logger.info("batch to score: %s, %d rows, %d columns", path, len(batch), batch.shape[1])
    return batch


@step
def validate_inference_batch(
    batch: pd.DataFrame, schema: DataSchema
) -> Annotated[ValidationReport, names.INFERENCE_VALIDATION_REPORT]:
    """The checks the model version's training data defined (columns, types, ranges, nulls); labels optional. Any
    non-empty batch may be scored: the contract's row minimum guards drift statistics, which scoring has none of."""
    from steps.data.validation import validate_batch_frame

    report = validate_batch_frame(batch, schema.contract, min_rows=1)
    (logger.info if report.passed else logger.error)(report.summary())
    return report


@step
def inference_batch_gate(report: ValidationReport) -> Annotated[bool, "inference_batch_passed"]:
    """A batch that fails validation is never scored."""
    from steps.data.validation import require_valid

    require_valid(report)
    return True


@step(enable_cache=False)
def predict_offline(
    batch: pd.DataFrame, schema: DataSchema, model_name: str, model_version: str, gate_passed: bool
) -> Annotated[pd.DataFrame, names.PREDICTIONS]:
    """Predictions of registered version `model_version` of `model_name`, loaded through skops (as deployed)."""
    from core.state import state_dir
    from steps.deployment.registry import RegistryError, by_version, download_model, load_model
    from steps.deployment.rollout import tracking_uri
    from steps.inference.scoring import score_frame

    uri = tracking_uri()
    ref = by_version(model_name, model_version, uri)
    if ref is None:
        raise RegistryError(f"model '{model_name}' has no version {model_version!r} in the registry at {uri}")
    model = load_model(download_model(ref, state_dir() / "models", uri))
    predictions = score_frame(model, batch, schema.features, schema.task)
    log_metadata(metadata={"model": f"models:/{ref.name}/{ref.version}", "mlflow_run_id": ref.run_id,
                           "rows": len(predictions)}, artifact_name=names.PREDICTIONS, infer_artifact=True)
    logger.info("scored %d rows in-process with %s v%s", len(predictions), ref.name, ref.version)
    return predictions
