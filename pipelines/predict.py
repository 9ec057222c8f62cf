"""Scoring a file for the CLI: through the live endpoint when it serves the chosen model version, otherwise with
the batch inference pipeline (in-process, no server), whose predictions are linked to the model version."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, Optional

from pipelines.launch import summarize_run


def serving_endpoint(
    deployment_name: str, model_name: Optional[str] = None, version: Optional[str] = None, alias: Optional[str] = None,
    recorded: Optional[Any] = None,
) -> Optional[Any]:
    """The active deployment `deployment_name` if it serves the chosen model (and version, when one is chosen by
    number or alias); None when nothing serves it, so the caller scores offline. `recorded`
    (stacks.fast_paths.LocalStack) answers from the recorded active stack instead of ZenML's."""
    if recorded is not None:
        info, uri = recorded.backend.status(deployment_name), (lambda: recorded.tracking_uri)
    else:
        from steps.deployment.rollout import NoDeployerError, active_deployer, tracking_uri

        try:
            info, uri = active_deployer().status(deployment_name), tracking_uri
        except NoDeployerError:
            return None
    if info is None or info.state != "active" or (model_name and info.model_name != model_name):
        return None
    if version is None and alias is None:
        return info
    from steps.deployment.registry import resolve_version

    wanted = resolve_version(info.model_name, version, alias, uri())
    return info if wanted.version == str(info.model_version) else None


def run_batch_inference(
    data: str, model_name: str, version: Optional[str] = None, alias: Optional[str] = None,
    say: Callable[[str], None] = print,
) -> Dict[str, Any]:
    """Scores `data` with a registered version of `model_name` (by number, by alias, or the champion, else the
    latest) through the inference pipeline. Returns the run summary with the predictions frame and the version."""
    from zenml import Model
    from zenml.client import Client
    from zenml.enums import ExecutionMode

    from pipelines.inference import inference_pipeline
    from core import names
    from steps.deployment.registry import resolve_version
    from steps.deployment.rollout import tracking_uri, zenml_model_version

    ref = resolve_version(model_name, version, alias, tracking_uri())
    model_version = zenml_model_version(ref)
    say(f"scoring offline (no server): {ref.name} v{ref.version}, ZenML model version {model_version.number}")
    pipeline = inference_pipeline.with_options(
        model=Model(name=model_version.model.name, version=str(model_version.number)),
        execution_mode=ExecutionMode.FAIL_FAST,  # re-raise the failing step's own error (e.g. the validation report)
    )
    run = pipeline(batch_path=str(Path(data).expanduser().resolve()), model_name=ref.name, model_version=ref.version)
    summary = summarize_run(run, say)
    say(f"predictions linked to ZenML model version {model_version.number} of {model_version.model.name} "
        f"(`zenml model data_artifacts {model_version.model.name} -v {model_version.number}`)")
    output = Client().get_pipeline_run(run.id).steps["predict_offline"].outputs[names.PREDICTIONS][0]
    summary.update(predictions=output.load(), predictions_artifact_id=str(output.id), model_name=ref.name,
                   model_version=ref.version, zenml_model_version=str(model_version.number))
    return summary
