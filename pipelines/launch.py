"""Prepares and launches pipeline runs for the CLI: configuration, stack, pre-flight checks, run summary."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Callable, Dict, Optional

from core.config import ConfigError, DeploymentConfig, TrainingConfig, load_config

logger = logging.getLogger(__name__)


def prepare_environment() -> None:
    """Process-wide settings every command needs before ZenML or whylogs load."""
    os.environ.setdefault("ZENML_ANALYTICS_OPT_IN", "false")
    os.environ.setdefault("WHYLOGS_NO_ANALYTICS", "1")
    os.environ.setdefault("ZENML_LOGGING_VERBOSITY", "INFO")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    from core.state import PROJECT_ROOT

    # Steps are resolved relative to the project, wherever the ZenML repository or the caller's cwd is.
    os.environ.setdefault("ZENML_CUSTOM_SOURCE_ROOT", str(PROJECT_ROOT))


class _DropUserErrorTraceback(logging.Filter):
    """Keeps the one-line message but drops the traceback when a step failed on a user error (bad data, config)."""

    def __init__(self, user_errors: tuple | Callable[[], tuple]) -> None:
        super().__init__()
        self.user_errors = user_errors

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            errors = self.user_errors() if callable(self.user_errors) else self.user_errors
            if isinstance(record.exc_info[1], errors):
                record.exc_info, record.exc_text = None, None
        return True


def quiet_user_error_tracebacks(user_errors: tuple | Callable[[], tuple]) -> None:
    """ZenML's local orchestrator logs every step failure with its traceback; a user error needs one line.
    `user_errors` may be a function returning the types, called only when a failure is logged (the types' modules
    import pandas and scikit-learn, which a command that runs no step does not need)."""
    logging.getLogger("zenml.orchestrators.local.local_orchestrator").addFilter(_DropUserErrorTraceback(user_errors))


# What each CLI command runs, so that its stack is checked for every pipeline before the first step (a command
# that trains then deploys must not train on a stack that cannot deploy). Commands not listed are not checked here.
COMMAND_PIPELINES: Dict[str, tuple] = {
    "": ("training", "deployment"),  # `python run.py`
    "train": ("training",),
    "all": ("training", "deployment"),
    "deploy": ("deployment",),
    "rollback": ("deployment",),
    "deployments": ("serving",),
    "deployments start": ("serving",),
    "deployments stop": ("serving",),
    "deployments delete": ("serving",),
    "monitor": ("monitoring", "training", "deployment"),  # it retrains and redeploys when the decision says so
    "simulate": ("monitoring", "training", "deployment"),
    "abtest start": ("deployment",),
    "abtest status": ("deployment",),
    "abtest stop": ("deployment",),
}


def pipelines_for(command: str, params: Dict[str, Any]) -> tuple:
    """The pipelines a command (`''` for `python run.py`, `'monitor'`, ...) may run, given its parameters."""
    if command == "monitor" and params.get("retrain") is False:
        return ("monitoring",)
    return COMMAND_PIPELINES.get(command, ())


def use_stack(name: Optional[str], say: Callable[[str], None], pipelines: tuple = ()) -> str:
    """The stack a command runs on: `name` for this command only, else the active stack, checked for what
    `pipelines` need before any step runs (stacks/selection.py). Only `stack use` changes the active stack."""
    from stacks.selection import prepare

    return prepare(name, pipelines, say)


def preflight_data(config: TrainingConfig) -> str:
    """Fails fast, before any pipeline starts, on problems a user can fix: file, target, task, no usable feature
    column, behaviour checks or slice bins naming columns the table lacks. Returns the source fingerprint ('' for generated data)."""
    from steps.data.columns import detect_task, plan_features, prepare_target
    from core.frames import normalize_missing
    from steps.data.fingerprint import fingerprint_file
    from steps.data.sources import load_dataset
    from steps.evaluation.behaviour import check_columns

    data = config.data
    if str(data.source) in ("synthetic", ""):
        return ""  # generated in the pipeline from (rows, seed): nothing a user could have got wrong
    loaded = load_dataset(data.source, target=data.target, n_rows=data.n_rows, seed=data.seed)
    task = detect_task(loaded.frame[loaded.target].dropna(), None if data.task == "auto" else data.task)
    frame, _ = prepare_target(normalize_missing(loaded.frame), loaded.target, task)
    plan = plan_features(frame, loaded.target, task, max_null_fraction=config.validation.max_null_fraction,
                         drop_columns=data.drop_columns)
    check_columns(config.evaluation, plan.features, plan.numeric)
    source = str(data.source)
    if not source.startswith("sklearn:"):
        return fingerprint_file(str(Path(source).expanduser()))
    return ""


def preflight_model(config: TrainingConfig) -> None:
    """Checks estimator, parameters and search space against scikit-learn before the run starts."""
    from steps.training.model_factory import estimator_class, estimator_params, search_space

    task = config.data.task if config.data.task != "auto" else "binary"
    cls = estimator_class(config.training.estimator, task)
    estimator_params(cls, config.training.params, config.training.seed)
    search_space(config.training.search.space, config.training.estimator, task)


def load_training_config(path: str | None, overrides: Dict[str, Any]) -> TrainingConfig:
    return load_config(path or "training", TrainingConfig, overrides)


def model_name_for(source: str) -> str | None:
    """A registry name for a user's data source ('sklearn:iris' -> 'iris-model', 'data/My Sales.csv' ->
    'my-sales-model'), so that another dataset never becomes a new version of the churn model. None for synthetic."""
    import re

    if source in ("synthetic", ""):
        return None
    stem = source.split(":", 1)[1] if source.startswith("sklearn:") else Path(source).stem
    slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:40] or "dataset"
    return f"{slug}-model"


def user_data_overrides(source: str, target: Optional[str]) -> Dict[str, Any]:
    """Overrides for `train --data`: the shipped card text, behaviour checks and per-feature slice bins describe the
    churn demo's table, not the user's (their own go in a training config: `run.py train --config`)."""
    return {"evaluation.behaviour_checks": [], "evaluation.slice_bins": {},
            "model.description": f"Trained with `run.py train --data {source}` (target {target or 'from the source'}).",
            "model.tags": [], "model.audience": "", "model.use_cases": "",
            "model.limitations": "Describe intended use and limitations in a training config's model block "
                                 "(run.py train --config).",
            "model.ethics": ""}


def load_deployment_config(path: str | None, overrides: Dict[str, Any]) -> DeploymentConfig:
    return load_config(path or "deployment", DeploymentConfig, overrides)


def run_deployment(
    config: DeploymentConfig,
    model_name: str,
    say: Callable[[str], None] = print,
    version: Optional[str] = None,
    alias: Optional[str] = None,
    force: bool = False,
    deployment_name: Optional[str] = None,
) -> Dict[str, Any]:
    """Runs the deployment pipeline for `model_name` (its challenger, or the chosen version or alias) behind the
    model's own endpoint, and returns the run summary plus the decision and the deployment record."""
    from zenml.enums import ExecutionMode

    from pipelines.deployment import deployment_pipeline
    from pipelines.selection import deployment_of
    from core import names

    from pipelines.abtest import refuse_during_test
    from steps.deployment.release_lock import release_lock

    with release_lock(model_name, "deploy", say=say):  # gate -> deploy -> promote as one release
        refuse_during_test(model_name)
        run = deployment_pipeline.with_options(execution_mode=ExecutionMode.FAIL_FAST)(
            model_name=model_name, deployment_name=deployment_name or deployment_of(model_name), gate=config.gate,
            serving=config.serving, version=version, alias=alias, force=force,
        )
    summary = summarize_run(run, say)
    from zenml.client import Client

    steps = Client().get_pipeline_run(run.id).steps
    summary["decision"] = steps["decide_deployment"].outputs[names.DEPLOYMENT_DECISION][0].load()
    summary["record"] = steps["deploy_challenger"].outputs[names.DEPLOYMENT_INFO][0].load()
    return summary


def rollback_champion(config: DeploymentConfig, model_name: str, say: Callable[[str], None] = print) -> Any:
    """Serves `model_name`'s `previous-champion` again (parity-checked, blue/green) and makes it the champion; the
    version rolled away from is retired. Holds the model's release lock, like a deployment run."""
    from steps.deployment.release_lock import release_lock

    from pipelines.abtest import refuse_during_test

    with release_lock(model_name, "rollback", say=say):
        refuse_during_test(model_name)
        return _rollback_champion(config, model_name, say)


def _rollback_champion(config: DeploymentConfig, model_name: str, say: Callable[[str], None]) -> Any:
    from pipelines.selection import deployment_of
    from steps.deployment.registry import RegistryError, by_alias
    from steps.deployment.rollout import deploy_version, promote_served, tracking_uri, training_artifacts
    from steps.training.tracking import PREVIOUS_CHAMPION_ALIAS

    uri = tracking_uri()
    previous = by_alias(model_name, PREVIOUS_CHAMPION_ALIAS, uri)
    if previous is None:
        raise RegistryError(f"model '{model_name}' has no '{PREVIOUS_CHAMPION_ALIAS}' version to roll back to "
                            f"(to serve a chosen version: python run.py deploy --model-name {model_name} --version N)")
    model_version, holdout, schema = training_artifacts(previous)
    say(f"rolling back {model_name} to v{previous.version}")
    record = deploy_version(previous, holdout, schema, config.serving, deployment_of(model_name),
                            config.gate.parity_tolerance, uri)
    retired = promote_served(record, str(model_version.id), uri, retire_previous=True)
    if retired:
        say(f"v{retired} retired (deployment_status=rolled-back, no longer the challenger)")
    return record


def run_training(
    config: TrainingConfig, source_fingerprint: str = "", say: Callable[[str], None] = print
) -> Dict[str, Any]:
    """Runs the training pipeline and returns a run summary. `source_fingerprint` comes from `preflight_data`."""
    from zenml import Model
    from zenml.enums import ExecutionMode

    from pipelines.training import training_pipeline
    from steps.training.tracking import config_hash

    settings_dump = config.model_dump(mode="json")
    card = config.model
    model = Model(
        name=card.name, description=card.description, license=card.license, tags=card.tags,
        audience=card.audience or None, use_cases=card.use_cases or None, limitations=card.limitations or None,
        ethics=card.ethics or None,
    )
    experiment = config.experiment_name or f"{card.name}-training"
    ensure_mlflow_experiment(experiment)
    pipeline = training_pipeline.with_options(
        enable_cache=config.enable_cache,
        model=model,
        execution_mode=ExecutionMode.FAIL_FAST,  # re-raise the failing step's own error, not a generic one
        settings={"experiment_tracker": {"experiment_name": experiment}},
    )
    run = pipeline(
        data=config.data,
        validation=config.validation,
        split=config.split,
        training=config.training,
        evaluation=config.evaluation,
        model_name=card.name,
        # Caching is how a run executes, not what it computes: leave it out so a cached rerun can match.
        config_digest=config_hash({k: v for k, v in settings_dump.items() if k != "enable_cache"}),
        source_fingerprint=source_fingerprint,
    )
    return summarize_run(run, say)


def ensure_mlflow_experiment(name: str) -> None:
    """Creates the MLflow experiment with its artifacts under the run-state directory (not ./mlruns in the cwd)."""
    import mlflow
    from zenml.client import Client

    tracker = Client().active_stack.experiment_tracker
    if tracker is None:
        raise ConfigError("the active stack has no experiment tracker; run `python run.py stack use local`")
    tracker.configure_mlflow()  # credentials of a remote (server stack) MLflow, before the first call
    tracking_uri = tracker.get_tracking_uri()
    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    if client.get_experiment_by_name(name) is None and tracking_uri.startswith("sqlite:"):
        from core.state import state_dir

        location = (state_dir() / "mlflow" / "artifacts" / name).as_uri()
        client.create_experiment(name, artifact_location=location)


def summarize_run(run: Any, say: Callable[[str], None]) -> Dict[str, Any]:
    """Prints what a run did: status, which steps were cached, and where to look next."""
    from zenml.client import Client

    run = Client().get_pipeline_run(run.id)
    steps = run.steps
    cached = [name for name, s in steps.items() if str(s.status) in ("cached", "ExecutionStatus.CACHED")]
    say(f"pipeline run '{run.name}': {run.status}")
    if cached:
        say(f"  {len(cached)} of {len(steps)} steps reused from cache: {', '.join(cached)}")
    return {"run_id": str(run.id), "run_name": run.name, "status": str(run.status), "cached_steps": cached}
