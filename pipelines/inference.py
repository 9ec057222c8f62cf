"""Batch inference pipeline: load a file -> validate against the model version's training contract -> score
in-process -> predictions linked to the model version."""

from zenml import get_pipeline_context, pipeline

from core import names
from steps.inference.steps import inference_batch_gate, load_inference_batch, predict_offline, validate_inference_batch


@pipeline(enable_cache=False)
def inference_pipeline(batch_path: str, model_name: str, model_version: str) -> None:
    """Scores one file with registered version `model_version` of `model_name`; runs in that version's ZenML model
    context (set by the launcher), whose training schema is the contract. A batch failing it is never scored."""
    model = get_pipeline_context().model
    if model is None:
        raise RuntimeError("inference_pipeline runs in a model version's context: launch it with "
                           "pipelines.predict.run_batch_inference (or `python run.py predict --offline`)")
    schema = model.get_artifact(names.DATA_SCHEMA)
    batch = load_inference_batch(batch_path)
    report = validate_inference_batch(batch, schema)
    passed = inference_batch_gate(report)
    predict_offline(batch, schema, model_name, model_version, passed)
