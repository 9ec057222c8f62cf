"""Which model a command acts on, and which deployment serves it.

Several models live side by side: each registered model has its own deployment (named after it unless the first
deploy chose another name), so a command needs only a model name. Without one, the configured model
(configs/training.yaml) is used if it is registered, else the only deployed model; otherwise the error lists the
choices. The pure rules are `resolve_model_name` and `deployment_for`; `choose_model` and `deployment_of` feed them
from the active stack.
"""

from __future__ import annotations

from contextlib import closing
from typing import Iterable, List, Optional, Sequence

from stacks.seldon.spec import DeploymentInfo
from core.names import deployment_name_for


class ModelChoiceError(ValueError):
    """No model name was given and none can be chosen for the user, or the given one does not exist."""


def resolve_model_name(
    requested: Optional[str], configured: Optional[str], registered: Sequence[str], deployments: Iterable[DeploymentInfo]
) -> str:
    """The model to act on: `requested`, else `configured` if registered, else the only deployed model."""
    deployed = sorted({d.model_name for d in deployments if d.model_name})
    if requested:
        if requested not in registered and requested not in deployed:
            raise ModelChoiceError(f"no registered model called {requested!r}. {_choices(registered, deployed)}")
        return requested
    if configured and configured in registered:
        return configured
    if len(deployed) == 1:
        return deployed[0]
    why = ("several models are deployed" if deployed else
           f"the configured model {configured!r} is not registered yet" if configured else "no model is configured")
    raise ModelChoiceError(f"{why}: say which one with --model-name. {_choices(registered, deployed)}")


def _choices(registered: Sequence[str], deployed: Sequence[str]) -> str:
    if not registered and not deployed:
        return "Nothing is registered yet: train one with `python run.py train --data <file.csv> --target <column>`."
    parts = [f"registered: {', '.join(sorted(registered))}" if registered else "registered: none"]
    if deployed:
        parts.append(f"deployed: {', '.join(deployed)}")
    return "Choices (" + "; ".join(parts) + ")."


def deployment_for(model_name: str, deployments: Iterable[DeploymentInfo]) -> str:
    """The deployment that serves `model_name`: the one recorded for it, else the name derived from the model."""
    own = [d.name for d in deployments if d.model_name == model_name]
    default = deployment_name_for(model_name)
    if not own or default in own:
        return default
    return sorted(own)[0]


def registered_models(tracking_uri: Optional[str]) -> List[str]:
    """Names of the registered models in the stack's MLflow registry."""
    names = _registered_in_sqlite(tracking_uri)
    if names is not None:
        return names
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    return sorted(m.name for m in client.search_registered_models(max_results=1000))


def _registered_in_sqlite(tracking_uri: Optional[str]) -> Optional[List[str]]:
    """The registered model names read straight from a local MLflow SQLite registry, read-only: what
    `search_registered_models` returns there (single-tenant MLflow: the 'default' workspace), without importing
    MLflow (seconds, for a list of names). None, so that MLflow answers, for any other store, MLflow workspaces, a
    missing file or a schema this query does not know."""
    import os
    import sqlite3
    from urllib.parse import quote

    if not tracking_uri or not tracking_uri.startswith("sqlite:///") or "?" in tracking_uri:
        return None
    if os.environ.get("MLFLOW_WORKSPACE") or os.environ.get("MLFLOW_ENABLE_WORKSPACES", "").lower() in ("1", "true"):
        return None
    path = tracking_uri.removeprefix("sqlite:///")
    if not os.path.isfile(path):
        return None
    try:
        with closing(sqlite3.connect(f"file:{quote(os.path.abspath(path))}?mode=ro", uri=True)) as db:
            columns = {row[1] for row in db.execute("PRAGMA table_info(registered_models)")}
            if "name" not in columns:
                return None
            query = "SELECT name FROM registered_models" + (" WHERE workspace = 'default'" if "workspace" in columns
                                                            else "")
            return sorted(row[0] for row in db.execute(query))
    except sqlite3.Error:
        return None


def _deployments() -> List[DeploymentInfo]:
    from steps.deployment.rollout import NoDeployerError, active_deployer

    try:
        return active_deployer().list_deployments()
    except NoDeployerError:
        return []


def choose_model(requested: Optional[str]) -> str:
    """`resolve_model_name` against the active stack's registry and deployer."""
    from steps.deployment.rollout import tracking_uri

    return choose_among(requested, tracking_uri(), _deployments())


def choose_among(requested: Optional[str], tracking_uri: Optional[str], deployments: Sequence[DeploymentInfo]) -> str:
    """`resolve_model_name` against the registry at `tracking_uri` and `deployments`, with the configured model
    from configs/training.yaml."""
    from pipelines.launch import load_training_config

    configured = load_training_config(None, {}).model.name
    return resolve_model_name(requested, configured, registered_models(tracking_uri), deployments)


def deployment_of(model_name: str) -> str:
    """`deployment_for` against the active stack's deployer."""
    return deployment_for(model_name, _deployments())
