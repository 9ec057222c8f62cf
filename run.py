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
    from steps.training.split import SplitError

    errors = [ConfigError, DataSourceError, StackSpecError, ModelConfigError, SplitError, DeploymentError]
    try:
        from steps.data.validation import DataValidationError

        errors.append(DataValidationError)
    except ImportError:
        pass
    return tuple(errors)


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
    decision, record = result["decision"], result["record"]
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
    import json

    example = info.details.get("example_request") or {"data": {"names": ["feature"], "ndarray": [[0]]}}
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


if __name__ == "__main__":
    cli(obj={})
