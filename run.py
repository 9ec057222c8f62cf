#!/usr/bin/env python
"""The project's one front door: train, deploy, monitor, predict, simulate, stacks and dashboard.

Heavy imports (ZenML, MLflow, scikit-learn) happen inside the commands so that `--help` is instant.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Dict

import click


def _say(message: str) -> None:
    click.echo(message)


def _fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(1)


def _user_errors() -> tuple:
    """Exceptions that mean 'the input or configuration is wrong': one line, no traceback."""
    from pipelines.config import ConfigError
    from stacks.seldon.spec import DeploymentError
    from stacks.spec import StackSpecError
    from steps.data.sources import DataSourceError
    from steps.training.model_factory import ModelConfigError
    from steps.training.retraining import RetrainingError
    from steps.training.split import SplitError

    from steps.data.rows import RowLeakError
    from steps.data.validation import ContractConfigError, DataValidationError
    from steps.deployment.endpoint_client import EndpointError
    from steps.deployment.parity import ParityError
    from steps.deployment.registry import RegistryError
    from steps.deployment.rollout import NoDeployerError

    return (ConfigError, DataSourceError, StackSpecError, ModelConfigError, SplitError, DeploymentError,
            DataValidationError, ContractConfigError, EndpointError, ParityError, RegistryError, NoDeployerError,
            RetrainingError, RowLeakError)


def _guarded(action: Callable[[], Any]) -> Any:
    """Runs a command body, turning known user errors (also when raised inside a pipeline step) into one message."""
    errors = _user_errors()
    try:
        return action()
    except errors as exc:
        _fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - a step failure wraps the user's error; find it
        cause = exc
        while cause is not None and not isinstance(cause, errors):
            cause = cause.__cause__ or cause.__context__
        if cause is None:
            raise
        _fail(str(cause))


def _start(stack: str | None) -> str:
    from pipelines.launch import prepare_environment, quiet_user_error_tracebacks, use_stack
    from stacks.state import state_dir

    prepare_environment()
    quiet_user_error_tracebacks(_user_errors())
    _say(f"run state: {state_dir()}  (ZenML store: `zenml status`; never committed)")
    name = use_stack(stack, _say)
    _say(f"stack: {name}")
    return name


def _overrides(**values: Any) -> Dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


_TRAIN_OPTIONS = [
    click.option("--config", "config_path", default=None, help="Training config YAML (default configs/training.yaml)."),
    click.option("--data", default=None, help="synthetic | sklearn:<name> | path to a .csv/.parquet file."),
    click.option("--target", default=None, help="Target column (required for files)."),
    click.option("--task", type=click.Choice(["auto", "binary", "multiclass", "regression"]), default=None),
    click.option("--rows", type=int, default=None, help="Rows of synthetic data."),
    click.option("--seed", type=int, default=None, help="Seed for data generation, split and training."),
    click.option("--model-name", default=None, help="Registry name (default: from the config, or from --data)."),
    click.option("--no-cache", is_flag=True, help="Run every step even if a cached result exists."),
    click.option("--stack", default=None, help="Stack to run on (see `run.py stack list`)."),
]


def _train_options(func: Callable) -> Callable:
    for option in reversed(_TRAIN_OPTIONS):
        func = option(func)
    return func


def _training(ctx: click.Context, config_path, data, target, task, rows, seed, model_name, no_cache, stack):
    """Loads and checks the training config, starts the stack, runs training. Returns the config used."""
    from pipelines.launch import load_training_config, model_name_for, preflight_data, preflight_model, run_training

    overrides = _overrides(**{"data.source": data, "data.target": target, "data.task": task, "data.n_rows": rows,
                              "model.name": model_name or (model_name_for(data) if data else None)})
    if seed is not None:
        overrides.update({"data.seed": seed, "split.seed": seed, "training.seed": seed})
    if no_cache:
        overrides["enable_cache"] = False
    config = load_training_config(config_path, overrides)
    preflight_model(config)
    source_fingerprint = preflight_data(config)
    _start(stack or (ctx.obj or {}).get("stack"))
    run_training(config, source_fingerprint, _say)
    return config


def _deployment(model_name: str | None, config_path: str | None = None) -> Dict[str, Any]:
    from pipelines.launch import load_deployment_config, run_deployment

    config = load_deployment_config(config_path, _overrides(**{"model.name": model_name}))
    result = run_deployment(config, _say)
    decision = result["decision"]
    _say(f"decision: {decision.decision} (challenger v{decision.challenger_version}, champion "
         f"{'v' + decision.champion_version if decision.champion_version else 'none'})")
    for reason in decision.reasons:
        _say(f"  - {reason}")
    _show_endpoint(config.serving.deployment_name)
    return result


def _show_endpoint(deployment_name: str) -> None:
    from steps.deployment.rollout import active_deployer

    info = active_deployer().status(deployment_name)
    if info is None or info.state != "active":
        _say("no model is serving yet")
        return
    _say(f"endpoint: {info.url}  (model {info.model_name} v{info.model_version})")
    _say("try it:\n  " + _curl_example(info))


def _curl_example(info: Any) -> str:
    """A ready-to-paste request built from the served model's MLflow input example (first row)."""
    import json
    from pathlib import Path

    example = {"data": {"names": ["feature"], "ndarray": [[0]]}}
    path = Path(info.details.get("model_uri", "")) / "input_example.json"
    if path.is_file():
        data = json.loads(path.read_text())
        example = {"data": {"names": data["columns"], "ndarray": data["data"][:1]}}
    return f"curl -s -X POST {info.url} -H 'Content-Type: application/json' -d '{json.dumps(example)}'"


@click.group(invoke_without_command=True)
@click.option("--stack", default=None, help="Stack to run on (see `run.py stack list`); default: the active one.")
@click.pass_context
def cli(ctx: click.Context, stack: str | None) -> None:
    """Reproducible ML lifecycle on ZenML. With no command: train, then deploy through the champion gate."""
    ctx.ensure_object(dict)
    ctx.obj["stack"] = stack
    if ctx.invoked_subcommand is None:
        def body() -> None:
            config = _training(ctx, None, None, None, None, None, None, None, False, stack)
            _deployment(config.model.name)

        _guarded(body)


@cli.command()
@_train_options
@click.pass_context
def train(ctx: click.Context, **options: Any) -> None:
    """Train, evaluate and register a challenger model."""
    _guarded(lambda: _training(ctx, **options))


@cli.command()
@click.option("--config", "config_path", default=None, help="Deployment config YAML (default configs/deployment.yaml).")
@click.option("--model-name", default=None, help="Registered model to deploy (default: from the config).")
@click.option("--stack", default=None, help="Stack to run on.")
@click.pass_context
def deploy(ctx: click.Context, config_path, model_name, stack) -> None:
    """Gate the registry's challenger against the champion and deploy it if it wins."""

    def body() -> None:
        _start(stack or (ctx.obj or {}).get("stack"))
        _deployment(model_name, config_path)

    _guarded(body)


@cli.command()
@_train_options
@click.option("--deploy-config", default=None, help="Deployment config YAML (default configs/deployment.yaml).")
@click.pass_context
def all(ctx: click.Context, deploy_config, **options: Any) -> None:  # noqa: A001 - a CLI verb
    """Train, then deploy (what `python run.py` does), with training options."""

    def body() -> None:
        config = _training(ctx, **options)
        _deployment(config.model.name, deploy_config)

    _guarded(body)


@cli.command()
@click.option("--data", required=True, help="CSV or Parquet file with the feature columns.")
@click.option("--out", default=None, help="Where to write predictions (CSV); default: print a preview.")
@click.option("--deployment", "deployment_name", default="churn-classifier", show_default=True)
@click.option("--stack", default=None, help="Stack whose deployer serves the model.")
@click.pass_context
def predict(ctx: click.Context, data, out, deployment_name, stack) -> None:
    """Score a file through the deployed endpoint."""

    def body() -> None:
        import pandas as pd

        from steps.data.sources import load_table
        from steps.deployment.endpoint_client import predict as call_endpoint, predictions_frame
        from steps.deployment.rollout import active_deployer

        frame = load_table(data)
        _start(stack or (ctx.obj or {}).get("stack"))
        info = active_deployer().status(deployment_name)
        if info is None or info.state != "active":
            _fail(f"no active deployment '{deployment_name}': run `python run.py` or `python run.py deploy` first")
        names = _served_features(info) or list(frame.columns)
        missing = [c for c in names if c not in frame.columns]
        if missing:
            _fail(f"{data}: missing feature column(s) {', '.join(missing)} that model v{info.model_version} needs")
        output_names, values = call_endpoint(info.url, frame[names])
        result = pd.concat([frame.reset_index(drop=True), predictions_frame(output_names, values)], axis=1)
        if out:
            result.to_csv(out, index=False)
            _say(f"{len(result)} predictions from model {info.model_name} v{info.model_version} -> {out}")
        else:
            _say(result.head(20).to_string())

    _guarded(body)


def _served_features(info: Any) -> list:
    """Feature names of the served model, from its MLflow signature (input example)."""
    import json
    from pathlib import Path

    path = Path(info.details.get("model_uri", "")) / "input_example.json"
    return json.loads(path.read_text())["columns"] if path.is_file() else []


@cli.command()
@click.option("--stop", "stop_name", default=None, help="Stop (and remove) this deployment.")
@click.option("--stack", default=None)
@click.pass_context
def deployments(ctx: click.Context, stop_name, stack) -> None:
    """List deployments (name, model version, state, URL), or stop one."""

    def body() -> None:
        from steps.deployment.rollout import active_deployer

        _start(stack or (ctx.obj or {}).get("stack"))
        deployer = active_deployer()
        if stop_name:
            deployer.stop(stop_name)
            _say(f"stopped deployment '{stop_name}'")
            return
        rows = deployer.list_deployments()
        if not rows:
            _say("no deployments")
        for info in rows:
            _say(f"{info.name:24} {info.model_name} v{info.model_version:6} {info.state:8} {info.url}")

    _guarded(body)


@cli.command()
@click.option("--config", "config_path", default=None, help="Deployment config YAML.")
@click.option("--model-name", default=None)
@click.option("--stack", default=None)
@click.pass_context
def rollback(ctx: click.Context, config_path, model_name, stack) -> None:
    """Serve the previous champion again (parity-checked, blue/green) and make it the champion."""

    def body() -> None:
        from pipelines.launch import load_deployment_config, rollback_champion

        config = load_deployment_config(config_path, _overrides(**{"model.name": model_name}))
        _start(stack or (ctx.obj or {}).get("stack"))
        record = rollback_champion(config, _say)
        _say(f"rolled back: {record.model_name} v{record.model_version} serving at {record.url}")

    _guarded(body)


@cli.command()
@click.option("--data", default=None, help="Batch file (CSV/Parquet); default: a generated batch.")
@click.option("--rows", type=int, default=1000, show_default=True, help="Rows of a generated batch.")
@click.option("--drift", type=float, default=0.0, show_default=True, help="Drift level of a generated batch (0-1).")
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--config", "config_path", default=None, help="Monitoring config YAML.")
@click.option("--retrain/--no-retrain", default=True, show_default=True, help="Retrain when the decision says so.")
@click.option("--stack", default=None)
@click.pass_context
def monitor(ctx: click.Context, data, rows, drift, seed, config_path, retrain, stack) -> None:
    """Validate, profile and score a batch; report drift and decay; retrain if needed."""

    def body() -> None:
        from pipelines.continuous_training import load_monitoring_config, retrain as retrain_model, run_monitoring

        config = load_monitoring_config(config_path, {})
        if data:
            from steps.data.sources import load_table

            load_table(data)  # fail fast on a missing or unreadable file
            source = {"path": str(data)}
        else:
            source = {"generator": {"n_rows": rows, "seed": seed, "drift": drift}}
        _start(stack or (ctx.obj or {}).get("stack"))
        outcome = run_monitoring(config, source, _say)
        if outcome["decision"].action == "retrain" and retrain:
            retrain_model(config, [outcome["batch"]], _say)
            _show_endpoint(config.deployment_name)

    _guarded(body)


@cli.command()
@click.option("--days", type=int, default=8, show_default=True)
@click.option("--drift-from", type=int, default=3, show_default=True, help="First day with injected drift.")
@click.option("--out", "out_dir", default=None, help="Directory for the timeline PNG (default: the run state).")
@click.option("--config", "config_path", default=None, help="Monitoring config YAML.")
@click.option("--stack", default=None)
@click.pass_context
def simulate(ctx: click.Context, days, drift_from, out_dir, config_path, stack) -> None:
    """Daily batches with drift from day K: monitoring, retraining and redeploys, and a timeline plot."""

    def body() -> None:
        from pathlib import Path

        from pipelines.continuous_training import load_monitoring_config, simulate as run_simulation
        from stacks.state import state_dir

        if days < 1:
            _fail(f"--days must be at least 1, got {days}")
        config = load_monitoring_config(config_path, {})
        _start(stack or (ctx.obj or {}).get("stack"))
        target = Path(out_dir) if out_dir else state_dir() / "simulation"
        target.mkdir(parents=True, exist_ok=True)
        run_simulation(config, days, drift_from, target, _say)

    _guarded(body)


@cli.group()
def monitoring() -> None:
    """Local Prometheus + Pushgateway with the project's scrape config and alert rules."""


def _add_stack_commands() -> None:
    from stacks.commands import dashboard, stack

    cli.add_command(stack)
    cli.add_command(dashboard)


_add_stack_commands()


@monitoring.command("up")
def monitoring_up() -> None:
    """Start Prometheus and the Pushgateway (127.0.0.1), scraping the local endpoints."""
    from monitoring import local
    from steps.deployment.rollout import scrape_targets

    _start(None)
    info = local.up(scrape_targets())
    _say(local.describe(info))


@monitoring.command("down")
def monitoring_down() -> None:
    """Stop the local Prometheus and Pushgateway."""
    from monitoring import local

    local.down()
    _say("monitoring stopped")


@monitoring.command("status")
def monitoring_status() -> None:
    from monitoring import local

    _say(local.describe(local.status()))


if __name__ == "__main__":
    cli(obj={})
