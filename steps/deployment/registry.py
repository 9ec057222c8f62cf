"""The MLflow model registry as the deployment stage sees it: aliases, model loading, promotion and rollback."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Dict, Optional

from steps.training.tracking import CHALLENGER_ALIAS, CHAMPION_ALIAS, PREVIOUS_CHAMPION_ALIAS


class RegistryError(RuntimeError):
    """The registry does not hold what a deployment needs (e.g. no challenger to deploy)."""


@dataclasses.dataclass(frozen=True)
class ModelRef:
    """One registered model version."""

    name: str
    version: str
    run_id: str
    source: str  # artifact URI of the MLflow model directory
    tags: Dict[str, str]

    @property
    def zenml_run_id(self) -> str:
        return self.tags.get("zenml_run_id", "")


def _client(tracking_uri: Optional[str] = None):  # noqa: ANN202
    import mlflow

    if tracking_uri:
        # `models:/` URIs resolve through the process-wide registry URI, not a client's: set both.
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
    return mlflow.MlflowClient(tracking_uri=tracking_uri)


def by_alias(name: str, alias: str, tracking_uri: Optional[str] = None) -> Optional[ModelRef]:
    """The version carrying `alias`, or None when the alias (or the model) does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        version = _client(tracking_uri).get_model_version_by_alias(name, alias)
    except MlflowException:
        return None
    return ModelRef(name, str(version.version), version.run_id or "", version.source, dict(version.tags or {}))


def by_version(name: str, version: str, tracking_uri: Optional[str] = None) -> Optional[ModelRef]:
    """Version `version` of model `name`, or None when it does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        found = _client(tracking_uri).get_model_version(name, str(version))
    except MlflowException:
        return None
    return ModelRef(name, str(found.version), found.run_id or "", found.source, dict(found.tags or {}))


def select_version(
    name: str, version: Optional[str], alias: Optional[str], tracking_uri: Optional[str] = None
) -> "tuple[ModelRef, str]":
    """The version a deploy acts on and how it was chosen: `version` or `alias` (see `resolve_version`), else the
    challenger."""
    if version is None and alias is None:
        return require_challenger(name, tracking_uri), f"alias '{CHALLENGER_ALIAS}'"
    return resolve_version(name, version, alias, tracking_uri), (f"version {version}" if version else f"alias '{alias}'")


def require_challenger(name: str, tracking_uri: Optional[str] = None) -> ModelRef:
    ref = by_alias(name, CHALLENGER_ALIAS, tracking_uri)
    if ref is None:
        raise RegistryError(f"model '{name}' has no '{CHALLENGER_ALIAS}' version: train one with `python run.py train "
                            f"--model-name {name} ...`, or deploy an existing one with --version N or --alias A")
    return ref


def download_model(ref: ModelRef, destination: Path, tracking_uri: Optional[str] = None) -> Path:
    """The MLflow model directory of `ref`, copied to `destination/<name>/<version>` (reused if already there)."""
    import mlflow

    target = destination / ref.name / ref.version
    if (target / "MLmodel").is_file():
        return target
    _client(tracking_uri)
    target.mkdir(parents=True, exist_ok=True)
    mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{ref.name}/{ref.version}", dst_path=str(target))
    nested = [p for p in target.iterdir() if (p / "MLmodel").is_file()]
    if not (target / "MLmodel").is_file() and len(nested) == 1:
        for item in nested[0].iterdir():
            item.rename(target / item.name)
        nested[0].rmdir()
    if not (target / "MLmodel").is_file():
        raise RegistryError(f"{ref.name} v{ref.version}: no MLmodel file in {ref.source}")
    return target


def load_model(model_dir: Path) -> Any:
    """The scikit-learn model of an MLflow model directory, through skops under the type allowlist."""
    from materializers.skops_io import loads

    skops_file = Path(model_dir) / "model.skops"
    if not skops_file.is_file():
        raise RegistryError(f"{model_dir}: no model.skops (only skops-serialised models are deployed)")
    return loads(skops_file.read_bytes())


def promote(name: str, version: str, tracking_uri: Optional[str] = None) -> Optional[str]:
    """Makes `version` the champion; the champion it replaces becomes `previous-champion`. Returns that version."""
    client = _client(tracking_uri)
    current = by_alias(name, CHAMPION_ALIAS, tracking_uri)
    if current is not None and current.version != version:
        client.set_registered_model_alias(name, PREVIOUS_CHAMPION_ALIAS, current.version)
    client.set_registered_model_alias(name, CHAMPION_ALIAS, version)
    client.set_model_version_tag(name, version, "deployment_status", "champion")
    if current is not None and current.version != version:
        client.set_model_version_tag(name, current.version, "deployment_status", "previous-champion")
        return current.version
    return None


def resolve_version(
    name: str, version: Optional[str] = None, alias: Optional[str] = None, tracking_uri: Optional[str] = None
) -> ModelRef:
    """The version a user chose: by number, by alias, or by default the champion, else the latest version."""
    if version is not None and alias is not None:
        raise RegistryError(f"choose a version of '{name}' by number or by alias, not both ({version!r}, {alias!r})")
    client = _client(tracking_uri)
    numbers = sorted(int(v.version) for v in client.search_model_versions(f"name = '{name}'"))
    if not numbers:
        raise RegistryError(f"model '{name}' has no registered versions: train it first "
                            f"(`python run.py train --model-name {name}`)")
    if version is not None:
        ref = by_version(name, str(version), tracking_uri)
        if ref is None:
            raise RegistryError(f"model '{name}' has no version {version!r}; versions: {', '.join(map(str, numbers))}")
        return ref
    ref = by_alias(name, alias or CHAMPION_ALIAS, tracking_uri)
    if ref is not None:
        return ref
    if alias is not None:
        aliases = sorted(client.get_registered_model(name).aliases or {})
        raise RegistryError(f"model '{name}' has no version with alias '{alias}'; aliases: "
                            f"{', '.join(aliases) or 'none'} (or choose a version: {', '.join(map(str, numbers))})")
    return by_version(name, str(numbers[-1]), tracking_uri)
