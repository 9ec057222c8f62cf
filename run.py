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


@click.group(invoke_without_command=True)
@click.option("--stack", default=None, help="Stack to run on (see `run.py stack list`); default: the active one.")
@click.pass_context
def cli(ctx: click.Context, stack: str | None) -> None:
    """Reproducible ML lifecycle on ZenML. With no command: train, then deploy."""
    ctx.ensure_object(dict)
    ctx.obj["stack"] = stack
    if ctx.invoked_subcommand is None:
        ctx.invoke(train)


@cli.command()
@click.option("--config", "config_path", default=None, help="Training config YAML (default configs/training.yaml).")
@click.option("--data", default=None, help="synthetic | sklearn:<name> | path to a .csv/.parquet file.")
@click.option("--target", default=None, help="Target column (required for files).")
@click.option("--task", type=click.Choice(["auto", "binary", "multiclass", "regression"]), default=None)
@click.option("--rows", type=int, default=None, help="Rows of synthetic data.")
@click.option("--seed", type=int, default=None, help="Seed for data generation, split and training.")
@click.option("--no-cache", is_flag=True, help="Run every step even if a cached result exists.")
@click.option("--stack", default=None, help="Stack to run on.")
@click.pass_context
def train(ctx: click.Context, config_path, data, target, task, rows, seed, no_cache, stack) -> None:
    """Train, evaluate and register a challenger model."""

    def body() -> None:
        from pipelines.launch import load_training_config, preflight_data, preflight_model, run_training

        overrides = _overrides(**{"data.source": data, "data.target": target, "data.task": task,
                                  "data.n_rows": rows})
        if seed is not None:
            overrides.update({"data.seed": seed, "split.seed": seed, "training.seed": seed})
        if no_cache:
            overrides["enable_cache"] = False
        config = load_training_config(config_path, overrides)
        preflight_model(config)
        source_fingerprint = preflight_data(config)
        _start(stack or (ctx.obj or {}).get("stack"))
        run_training(config, source_fingerprint, _say)

    _guarded(body)


if __name__ == "__main__":
    cli(obj={})
