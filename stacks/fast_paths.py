"""Answers for read-only commands without importing ZenML: `run.py deployments` (list), `run.py stack list` and the
stack part of `run.py predict` through an endpoint.

Importing ZenML's client and opening its SQL store costs seconds, yet listing local deployments needs only two
facts from it: which stack is active and how its model deployer is configured (the deployments themselves are the
local backend's registry file). Whenever a project stack becomes active (`stacks.manage.use`), both facts are
recorded in `<run state>/cache/active-stack.json` together with a key of everything they were read from: ZenML's
global and repository config files (content digests), its SQLite store file (mtime and size), the stack spec and the
deployer's code (digests), and the ZENML_/MLOPS_ environment. A read-only command uses the record only while that
key is unchanged; anything else (no record, another stack activated, a store written since, a ZenML server in use,
another working directory) takes the full ZenML path, which records again. The record also keeps the experiment
tracker's MLflow tracking URI when it is a local SQLite file (`predict` reads the registered model names from it). The process that recorded refreshes the
record when it exits, so the store writes of a `train` or `deploy` leave the next listing fast.
"""

from __future__ import annotations

import atexit
import dataclasses
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from stacks.spec import STACKS_DIR, available_stacks
from core.state import PROJECT_ROOT, state_dir

logger = logging.getLogger(__name__)

VERSION = 2
# Set by `prepare_environment` in the process that records, absent in a fresh one; none changes the answer.
IGNORED_ENV = frozenset({"ZENML_ANALYTICS_OPT_IN", "ZENML_LOGGING_VERBOSITY", "ZENML_CUSTOM_SOURCE_ROOT"})
# The code that turns the deployer's configuration into backend options: a change there makes a record stale.
CODE = (STACKS_DIR / "seldon" / "flavor.py", STACKS_DIR / "seldon" / "backends.py")

_exit_refresh: Dict[str, Any] = {}


def cache_path() -> Path:
    return state_dir() / "cache" / "active-stack.json"


# -- reading (no ZenML) -------------------------------------------------------------------------------------------
def current_record() -> Optional[Dict[str, Any]]:
    """The recorded active stack and model deployer options, or None when missing or stale."""
    try:
        record = json.loads(cache_path().read_text())
        if record.get("version") != VERSION:
            return None
        key = _key(Path(record["database"]), record["stack"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return record if key == record.get("key") else None


def active_stack() -> Optional[str]:
    """The active stack's name if the record is current (what `Client().active_stack_model.name` would say)."""
    record = current_record()
    return record["stack"] if record else None


def stack_rows() -> Optional[List[Dict[str, Any]]]:
    """The rows of the last full `stack list`, if nothing they depend on (store, config, specs) changed since."""
    record = current_record()
    try:
        saved = json.loads(_rows_path().read_text())
    except (OSError, ValueError):
        return None
    if record is None or saved.get("key") != record.get("key") or saved.get("stack") != record["stack"]:
        return None
    return saved.get("rows")


def remember_stack_rows(rows: List[Dict[str, Any]]) -> None:
    """Keeps the rows of a full `stack list` for the next one, under the current record's key."""
    record = current_record()
    if record is None:
        return
    path = _rows_path()
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps({"key": record["key"], "stack": record["stack"], "rows": rows}, sort_keys=True))
    os.replace(tmp, path)


def _rows_path() -> Path:
    return cache_path().with_name("stack-rows.json")


@dataclasses.dataclass(frozen=True)
class LocalStack:
    """What a read-only command needs of the recorded active stack: its name, its model deployer's backend and its
    MLflow tracking URI (None unless a local SQLite file)."""

    name: str
    backend: Any
    tracking_uri: Optional[str]


def local_stack(stack: Optional[str] = None) -> Optional[LocalStack]:
    """The recorded active stack, or None when the full path is needed: stale record, another `stack` asked for, a
    stack whose activation checks prerequisites or connects to services, or a model deployer other than the
    project's local backend."""
    record = current_record()
    if record is None or stack not in (None, record["stack"]) or record["requires"] or record["services"]:
        return None
    options = record.get("model_deployer")
    if not options or options.get("backend") != "local":
        return None
    from stacks.seldon.backends import make_backend

    return LocalStack(record["stack"], make_backend(dict(options)), record.get("tracking_uri"))


def local_deployments(stack: Optional[str] = None) -> Optional[Tuple[str, List[Any]]]:
    """(active stack, its deployments) read from the local backend's registry, or None when the full path is needed
    (see `local_stack`)."""
    recorded = local_stack(stack)
    return (recorded.name, recorded.backend.list()) if recorded else None


def _key(database: Path, stack: str) -> Dict[str, Any]:
    """Everything the recorded facts depend on, read without ZenML."""
    repository = find_repository()
    return {
        "project": str(PROJECT_ROOT),
        "environment": _environment(),
        "global_config": _digest(_global_config()),
        "repository": str(repository) if repository else None,
        "repository_config": _digest(_repository_dir(repository) / "config.yaml") if repository else None,
        "database": [_stat(database), _stat(database.with_name(database.name + "-wal"))],
        "spec": _digest(STACKS_DIR / f"{stack}.yaml"),
        "code": [_digest(path) for path in CODE],
    }


def _global_config() -> Path:
    """ZenML's global config file (ZenML's `get_global_config_directory` rules)."""
    config_dir = os.environ.get("ZENML_CONFIG_PATH")
    if config_dir:
        return Path(config_dir).resolve() / "config.yaml"
    import click

    return Path(click.get_app_dir("zenml")) / "config.yaml"


def _environment() -> List[List[str]]:
    return sorted([k, v] for k, v in os.environ.items() if k.startswith(("ZENML_", "MLOPS_")) and k not in IGNORED_ENV)


def find_repository() -> Optional[Path]:
    """The ZenML repository a client started here would use (ZenML's `Client.find_repository` rules)."""
    explicit = os.environ.get("ZENML_REPOSITORY_PATH")
    candidates = [Path(explicit)] if explicit else [Path.cwd(), *Path.cwd().parents]
    return next((p.resolve() for p in candidates if _repository_dir(p).is_dir()), None)


def _repository_dir(root: Path) -> Path:
    return root / os.environ.get("ZENML_REPOSITORY_DIRECTORY_NAME", ".zen")


def _digest(path: Path) -> Optional[str]:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _stat(path: Path) -> Optional[List[int]]:
    try:
        stat = path.stat()
    except OSError:
        return None
    return [stat.st_mtime_ns, stat.st_size]


# -- recording (ZenML loaded) -------------------------------------------------------------------------------------
def remember_active_stack(stack: str) -> None:
    """Records the active stack `stack` and its model deployer now, and again when this process exits."""
    record_active_stack(stack)
    _exit_refresh.update(path=cache_path(), environment=_environment())
    if not _exit_refresh.get("registered"):
        atexit.register(refresh_record)
        _exit_refresh["registered"] = True


def record_active_stack(stack: str) -> bool:
    """Writes the record if `stack` is ZenML's active stack on a local SQLite store; else removes any record.
    Returns whether a record was written. Never raises: a cache must not break a command."""
    path = cache_path()
    try:
        record = _read_zenml(stack)
    except Exception as exc:  # noqa: BLE001
        logger.debug("not recording the active stack: %s", exc)
        record = None
    if record is None:
        path.unlink(missing_ok=True)
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True))
    os.replace(tmp, path)
    return True


def _read_zenml(stack: str) -> Optional[Dict[str, Any]]:
    """The record as a fresh process would see things (this process's client caches its active stack)."""
    from zenml.client import Client
    from zenml.config.global_config import GlobalConfiguration
    from zenml.enums import StackComponentType

    from stacks.registration import spec_variables
    from stacks.seldon.backends import backend_options
    from stacks.seldon.flavor import FLAVOR_NAME, SeldonModelDeployerConfig
    from stacks.spec import load_stack_spec

    url = str(GlobalConfiguration().store_configuration.url)
    if not url.startswith("sqlite:///") or stack not in available_stacks():
        return None  # a server's state can change behind our back; a user's own stack is not ours to describe
    client = Client()
    repository = find_repository()
    if client.root is None or repository != Path(client.root).resolve():
        return None
    database = Path(url.removeprefix("sqlite:///"))
    key = _key(database, stack)  # before reading: a write in between makes the record stale, never wrong
    stack_id = _active_stack_id(repository)
    if stack_id is None:
        return None
    active = client.get_stack(stack_id)  # from the store, not the client's cached model
    if active.name != stack:
        return None
    deployers = active.components.get(StackComponentType.MODEL_DEPLOYER) or []
    options = None
    if deployers and deployers[0].flavor_name == FLAVOR_NAME:
        # the same options `SeldonModelDeployer.backend()` builds from its config
        options = backend_options(SeldonModelDeployerConfig(**deployers[0].configuration))
    spec = load_stack_spec(stack, spec_variables())
    return {"version": VERSION, "key": key, "database": str(database), "stack": stack, "requires": spec.requires,
            "services": spec.services, "model_deployer": options, "tracking_uri": _sqlite_tracking_uri(active)}


def _sqlite_tracking_uri(stack: Any) -> Optional[str]:
    """The MLflow experiment tracker's tracking URI when it is a plain local SQLite file (what
    `MLFlowExperimentTracker.get_tracking_uri` returns for it, with no credentials to configure); else None."""
    from zenml.enums import StackComponentType

    trackers = stack.components.get(StackComponentType.EXPERIMENT_TRACKER) or []
    if not trackers or trackers[0].flavor_name != "mlflow":
        return None
    uri = trackers[0].configuration.get("tracking_uri")
    return uri if isinstance(uri, str) and uri.startswith("sqlite:///") and "{{" not in uri else None


def _active_stack_id(repository: Path) -> Optional[str]:
    """The active stack id a client started now would use: $ZENML_ACTIVE_STACK_ID, the repository's, the global."""
    import yaml

    from_env = os.environ.get("ZENML_ACTIVE_STACK_ID")
    if from_env:
        return from_env
    for path in (_repository_dir(repository) / "config.yaml", _global_config()):
        if path.is_file():
            found = (yaml.safe_load(path.read_text()) or {}).get("active_stack_id")
            if found:
                return str(found)
    return None


def refresh_record() -> None:
    """Re-records (at exit) after this process's own store writes, unless its environment changed or the record is
    gone (a failed recording, or a test session's state removed)."""
    path = _exit_refresh.get("path")
    if path is None or not path.is_file() or _environment() != _exit_refresh.get("environment"):
        return
    try:
        stack = json.loads(path.read_text())["stack"]
    except (OSError, ValueError, KeyError):
        return
    record_active_stack(stack)
