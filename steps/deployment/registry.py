"""The MLflow model registry as the deployment stage sees it: aliases, model loading, promotion and rollback."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

from serving.identity import ModelIdentity
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

    def identity(self, uri: str) -> ModelIdentity:
        """This version's identity, loaded from `uri` (a downloaded directory, or the artifact store's location)."""
        return ModelIdentity(name=self.name, version=self.version, uri=uri, run_id=self.run_id,
                             data_fingerprint=self.tags.get("data_fingerprint", ""),
                             git_commit=self.tags.get("git_commit", ""))


class RegistryUnavailableError(RegistryError):
    """MLflow could not be asked (unreachable, refused, broken store): nothing is deployed or promoted on a guess."""


RETIRED_TAG_VALUE = "rolled-back"
NOTHING_CHANGED = "nothing was deployed, promoted or rolled back; the current champion keeps serving"
UNRECORDED = ("the new version may already serve, but the registry's aliases do not say so yet: "
              "run the same command again once MLflow answers, so that the aliases match what serves")


def _redacted(text: str) -> str:
    """`text` without credentials embedded in URLs (MLflow's own messages repeat the URI they failed on)."""
    return re.sub(r"//[^/@\s]+@", "//***@", text)


@contextlib.contextmanager
def _registry_call(what: str, tracking_uri: Optional[str], consequence: str = NOTHING_CHANGED) -> Iterator[None]:
    """Any failure to talk to MLflow becomes a RegistryUnavailableError naming the registry and the way forward."""
    try:
        yield
    except RegistryError:
        raise
    except Exception as exc:  # noqa: BLE001 - HTTP, SQL and MLflow errors alike: the registry could not answer
        import mlflow

        detail = str(exc).splitlines()[0] if str(exc) else ""
        raise RegistryUnavailableError(_redacted(
            f"the MLflow registry at {tracking_uri or mlflow.get_tracking_uri()} could not be asked ({what}): "
            f"{type(exc).__name__}: {detail}\n{consequence}. Start or reach MLflow (server stack: "
            "`python run.py stack up server`; local stack: check that the SQLite file is readable, intact and not "
            "held by another process), then retry."
        )) from None


def _does_not_exist(exc: Exception) -> bool:
    from mlflow.exceptions import MlflowException

    return isinstance(exc, MlflowException) and exc.error_code == "RESOURCE_DOES_NOT_EXIST"


def _client(tracking_uri: Optional[str] = None):  # noqa: ANN202
    import mlflow

    if tracking_uri:
        # `models:/` URIs resolve through the process-wide registry URI, not a client's: set both.
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
    return mlflow.MlflowClient(tracking_uri=tracking_uri)


def by_alias(name: str, alias: str, tracking_uri: Optional[str] = None) -> Optional[ModelRef]:
    """The version carrying `alias`; None only when MLflow answers that the model or the alias does not exist.

    Any other failure (MLflow unreachable, a broken store) raises RegistryUnavailableError: a gate that took an
    unreachable registry for "no champion yet" would deploy without comparison."""
    with _registry_call(f"alias '{alias}' of model '{name}'", tracking_uri):
        return _lookup(_client(tracking_uri), name, alias)


def _lookup(client: Any, name: str, alias: str) -> Optional[ModelRef]:
    try:
        model = client.get_registered_model(name)
    except Exception as exc:  # noqa: BLE001
        if _does_not_exist(exc):
            return None
        raise
    # Read from the model's alias table, not get_model_version_by_alias: a missing alias comes back from the latter
    # as INVALID_PARAMETER_VALUE, indistinguishable from a bad request without parsing the message.
    version_number = (model.aliases or {}).get(alias)
    if version_number is None:
        return None
    version = client.get_model_version(name, str(version_number))
    return ModelRef(name, str(version.version), version.run_id or "", version.source, dict(version.tags or {}))


def by_version(name: str, version: str, tracking_uri: Optional[str] = None) -> Optional[ModelRef]:
    """Version `version` of model `name`; None only when MLflow answers that it does not exist (any other failure
    raises RegistryUnavailableError, as for aliases)."""
    with _registry_call(f"version {version} of model '{name}'", tracking_uri):
        try:
            found = _client(tracking_uri).get_model_version(name, str(version))
        except Exception as exc:  # noqa: BLE001
            if _does_not_exist(exc):
                return None
            raise
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


COMPLETE_MARKER = ".download-complete"


def download_model(ref: ModelRef, destination: Path, tracking_uri: Optional[str] = None) -> Path:
    """The MLflow model directory of `ref` at `destination/<name>/<version>`.

    Downloaded into a temporary sibling and renamed into place, so the target is either absent or complete: a
    download killed half-way is never mistaken for the model (a folder without the completion marker is replaced)."""
    import mlflow

    target = destination / ref.name / ref.version
    if (target / COMPLETE_MARKER).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_downloads(target.parent)
    staging = Path(tempfile.mkdtemp(prefix=f".{ref.version}.download-", dir=target.parent))
    try:
        with _registry_call(f"download of {ref.name} v{ref.version}", tracking_uri):
            _client(tracking_uri)
            mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{ref.name}/{ref.version}",
                                                dst_path=str(staging))
        nested = [p for p in staging.iterdir() if (p / "MLmodel").is_file()]
        if not (staging / "MLmodel").is_file() and len(nested) == 1:
            for item in nested[0].iterdir():
                item.rename(staging / item.name)
            nested[0].rmdir()
        if not (staging / "MLmodel").is_file():
            raise RegistryError(f"{ref.name} v{ref.version}: no MLmodel file in {ref.source}")
        (staging / COMPLETE_MARKER).write_text(f"{ref.name} v{ref.version} from {ref.source}\n")
        _publish(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _remove_abandoned_downloads(folder: Path, older_than: float = 3600.0) -> None:
    """Staging folders of downloads killed half-way (never read, only cleaned); an hour old is surely abandoned."""
    for stale in folder.glob(".*.download-*"):
        with contextlib.suppress(OSError):
            if time.time() - stale.stat().st_mtime > older_than:
                shutil.rmtree(stale, ignore_errors=True)


def _publish(staging: Path, target: Path) -> None:
    """Renames a complete download into place; an incomplete folder left there by an older run is moved aside."""
    if target.exists() and not (target / COMPLETE_MARKER).is_file():
        stale = target.with_name(f".{target.name}.stale-{os.getpid()}")
        os.rename(target, stale)
        shutil.rmtree(stale, ignore_errors=True)
    try:
        os.rename(staging, target)
    except OSError:
        if not (target / COMPLETE_MARKER).is_file():  # not a concurrent download that won the race
            raise


def load_model(model_dir: Path) -> Any:
    """The scikit-learn model of an MLflow model directory, through skops under the type allowlist."""
    from materializers.skops_io import loads

    skops_file = Path(model_dir) / "model.skops"
    if not skops_file.is_file():
        raise RegistryError(f"{model_dir}: no model.skops (only skops-serialised models are deployed)")
    return loads(skops_file.read_bytes())


def promote(name: str, version: str, tracking_uri: Optional[str] = None) -> Optional[str]:
    """Makes `version` the champion; the champion it replaces becomes `previous-champion`. Returns that version."""
    with _registry_call(f"promotion of {name} v{version}", tracking_uri, UNRECORDED):
        client = _client(tracking_uri)
        current = _lookup(client, name, CHAMPION_ALIAS)
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
    with _registry_call(f"versions of model '{name}'", tracking_uri):
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


def roll_back(name: str, version: str, tracking_uri: Optional[str] = None) -> Optional[str]:
    """Makes `version` (the previous champion, now serving again) the champion and retires the version rolled away
    from: tagged `rolled-back`, and it loses the `challenger` alias if it held it, so that the next plain deploy
    cannot bring it back. Returns the retired version."""
    retired = promote(name, version, tracking_uri)
    if retired is None:
        return None
    with _registry_call(f"retirement of {name} v{retired}", tracking_uri, UNRECORDED):
        client = _client(tracking_uri)
        challenger = _lookup(client, name, CHALLENGER_ALIAS)
        if challenger is not None and challenger.version == retired:
            client.delete_registered_model_alias(name, CHALLENGER_ALIAS)
        client.set_model_version_tag(name, retired, "deployment_status", RETIRED_TAG_VALUE)
    return retired
