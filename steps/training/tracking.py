"""MLflow: what a training run logs (params, metrics, model, lineage) and how the model enters the registry."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import subprocess
import time
from typing import Any, Dict, List, Optional

import pandas as pd

from core.state import PROJECT_ROOT

CHALLENGER_ALIAS = "challenger"
CHAMPION_ALIAS = "champion"
PREVIOUS_CHAMPION_ALIAS = "previous-champion"
MODEL_ARTIFACT_PATH = "model"
SERVED_PACKAGES = ("scikit-learn", "skops", "numpy", "pandas")
KEY_PACKAGES = ("zenml", "mlflow", "scikit-learn", "pandas", "numpy", "whylogs", "skops")


def config_hash(config: Dict[str, Any]) -> str:
    """A stable hash of the effective configuration."""
    return "sha256:" + hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def git_state() -> Dict[str, str]:
    """Commit and dirty flag of the project checkout ('unknown' outside git)."""
    def run(*args: str) -> Optional[str]:
        try:
            return subprocess.run(
                ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    commit = run("rev-parse", "HEAD")
    status = run("status", "--porcelain", "--untracked-files=no")
    return {"git_commit": commit or "unknown", "git_dirty": "unknown" if status is None else str(bool(status)).lower()}


def package_versions() -> Dict[str, str]:
    versions = {}
    for name in KEY_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def lineage_tags(*, data_fingerprint: str, config_digest: str, zenml_run_id: str, zenml_run_name: str) -> Dict[str, str]:
    """Tags that let anyone trace a model back to code, data, configuration and the ZenML run."""
    tags = {
        **git_state(),
        "data_fingerprint": data_fingerprint,
        "config_hash": config_digest,
        "zenml_run_id": zenml_run_id,
        "zenml_run_name": zenml_run_name,
    }
    tags.update({f"version.{k}": v for k, v in package_versions().items()})
    return tags


CANDIDATE_RUN_PREFIX = "candidate"


def log_candidate_runs(report: Any, fit_seconds: List[float]) -> List[str]:
    """One MLflow child run of the active run per search candidate (params, mean and std of each CV score, mean
    fit seconds, rank), so MLflow's compare view shows every trial; the chosen one is tagged `chosen=true`.
    Returns the child run ids in candidate order. The parent run keeps the chosen model."""
    import mlflow
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

    parent = mlflow.active_run()
    if parent is None:
        raise RuntimeError("no active MLflow run: the step must run with the stack's MLflow experiment tracker")
    client = mlflow.MlflowClient()
    now = int(time.time() * 1000)
    ids = []
    for i, candidate in enumerate(report.candidates):
        chosen = i == report.best_index
        run = client.create_run(parent.info.experiment_id, run_name=f"{CANDIDATE_RUN_PREFIX}-{i:03d}",
                                tags={MLFLOW_PARENT_RUN_ID: parent.info.run_id})
        metrics = {"rank": candidate["rank"], "mean_fit_seconds": fit_seconds[i] if i < len(fit_seconds) else None}
        for name, score in candidate["scores"].items():
            metrics.update({f"cv_{name}_mean": score["mean"], f"cv_{name}_std": score["std"]})
        client.log_batch(
            run.info.run_id,
            metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items() if v is not None],
            params=[Param(k, str(v)) for k, v in sorted(candidate["params"].items())],
            tags=[RunTag("chosen", str(chosen).lower()), RunTag("scoring", report.scoring)],
        )
        client.set_terminated(run.info.run_id)
        ids.append(run.info.run_id)
    if report.candidates:
        mlflow.set_tag("chosen_candidate", f"{CANDIDATE_RUN_PREFIX}-{report.best_index:03d}")
    return ids


def model_save_args(model: Any, input_example: pd.DataFrame, task: str) -> Dict[str, Any]:
    """How a servable model is saved to MLflow: skops under the serving allowlist (refused here, before anything is
    logged, if the model holds any other type), signature, input example, explicit pins. Training and the serving
    tests both save through this, so the tests serve what training registers."""
    from mlflow.models import infer_signature

    from materializers.skops_io import dumps, trusted_types

    trusted = trusted_types(dumps(model))  # first: a model outside the allowlist is never even run
    # Integer features are declared as doubles: a missing value at serving time must not break the schema.
    int_columns = [c for c in input_example.columns if pd.api.types.is_integer_dtype(input_example[c])]
    input_example = input_example.astype({c: "float64" for c in int_columns})
    output = model.predict(input_example) if task == "regression" else model.predict_proba(input_example)
    return {
        "serialization_format": "skops",
        "skops_trusted_types": trusted,
        "signature": infer_signature(input_example, output),
        "input_example": input_example,
        # Explicit pins: MLflow would otherwise infer them by re-loading the model in a subprocess (seconds).
        "pip_requirements": [f"{p}=={importlib.metadata.version(p)}" for p in SERVED_PACKAGES],
    }


def log_model_and_register(
    model: Any, input_example: pd.DataFrame, task: str, registered_name: str, tags: Dict[str, str]
) -> Dict[str, str]:
    """Logs `model` (skops, with signature and input example) to the active MLflow run and registers it as the new
    `challenger` version. Returns name, version, run id and model URI."""
    import mlflow

    run = mlflow.active_run()
    if run is None:
        raise RuntimeError("no active MLflow run: the step must run with the stack's MLflow experiment tracker")
    save_args = model_save_args(model, input_example, task)
    info = mlflow.sklearn.log_model(
        model, name=MODEL_ARTIFACT_PATH, registered_model_name=registered_name, tags=tags, **save_args
    )
    version = str(info.registered_model_version)
    client = mlflow.MlflowClient()
    for key, value in tags.items():
        client.set_model_version_tag(registered_name, version, key, value)
    client.set_model_version_tag(registered_name, version, "task", task)
    client.set_registered_model_alias(registered_name, CHALLENGER_ALIAS, version)
    return {
        "name": registered_name,
        "version": version,
        "run_id": run.info.run_id,
        "model_uri": f"models:/{registered_name}/{version}",
        "alias": CHALLENGER_ALIAS,
    }
