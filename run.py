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
    from core.config import ConfigError
    from pipelines.selection import ModelChoiceError
    from stacks.seldon.spec import DeploymentError
    from stacks.spec import StackSpecError
    from steps.data.sources import DataSourceError
    from steps.evaluation.behaviour import BehaviourCheckError
    from steps.evaluation.slices import SliceConfigError
    from steps.training.model_factory import ModelConfigError
    from steps.training.retraining import RetrainingError
    from steps.training.split import SplitError

    from steps.data.rows import RowLeakError
    from steps.data.validation import ContractConfigError, DataValidationError
    from steps.deployment.comparison import IncomparableModelsError
    from steps.deployment.endpoint_client import EndpointError
    from steps.deployment.parity import ParityError
    from steps.deployment.registry import RegistryError
    from steps.deployment.rollout import NoDeployerError
    from monitoring.schedule import ScheduleError
    from steps.monitoring.live import LiveTrafficError
    from stacks.live_schedule import LiveScheduleError
    from pipelines.abtest import ABTestError

    return (ConfigError, ModelChoiceError, DataSourceError, StackSpecError, ModelConfigError, SplitError,
            DeploymentError, DataValidationError, ContractConfigError, EndpointError, ParityError, RegistryError,
            NoDeployerError, RetrainingError, RowLeakError, IncomparableModelsError, LiveTrafficError, ScheduleError,
            BehaviourCheckError, SliceConfigError, LiveScheduleError, ABTestError)


def _guarded(action: Callable[[], Any]) -> Any:
    """Runs a command body, turning known user errors (also when raised inside a pipeline step) into one message.
    The error types are imported only on failure: they pull in pandas and scikit-learn."""
    try:
        return action()
    except Exception as exc:  # noqa: BLE001 - a step failure wraps the user's error; find it
        errors = _user_errors()
        cause = exc
        while cause is not None and not isinstance(cause, errors):
            cause = cause.__cause__ or cause.__context__
        if cause is None:
            raise
        _fail(str(cause))


def _say_state_dir() -> None:
    from core.state import state_dir

    _say(f"run state: {state_dir()}  (ZenML store: `zenml status`; never committed)")


def _start(stack: str | None, announce: bool = True) -> str:
    """Makes the command's stack ready through ZenML; `announce=False` when the run state and stack were already
    said (a read-only answer from the recorded stack that needs ZenML after all)."""
    from pipelines.launch import pipelines_for, prepare_environment, quiet_user_error_tracebacks, use_stack

    prepare_environment()
    quiet_user_error_tracebacks(_user_errors)
    if announce:
        _say_state_dir()
    name = use_stack(stack, _say, pipelines_for(*_invoked_command()))
    if announce:
        _say(f"stack: {name}")
    return name


def _invoked_command() -> tuple:
    """The running command's path below the group ('' for `python run.py`, 'monitoring up') and its parameters."""
    ctx = click.get_current_context(silent=True)
    params = dict(ctx.params) if ctx else {}
    names = []
    while ctx is not None and ctx.parent is not None:
        names.insert(0, ctx.info_name)
        ctx = ctx.parent
    return " ".join(names), params


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
    click.option("--drop", "drop_columns", multiple=True,
                 help="Column never used as a feature (repeatable), e.g. one flagged as possible leakage."),
    click.option("--no-cache", is_flag=True, help="Run every step even if a cached result exists."),
    click.option("--stack", default=None, help="Stack to run on (see `run.py stack list`)."),
]


def _train_options(func: Callable) -> Callable:
    for option in reversed(_TRAIN_OPTIONS):
        func = option(func)
    return func


def _training(ctx: click.Context, config_path, data, target, task, rows, seed, model_name, drop_columns, no_cache,
              stack):
    """Loads and checks the training config, starts the stack, runs training. Returns the config used."""
    from pipelines.launch import (
        load_training_config, model_name_for, preflight_data, preflight_model, run_training, user_data_overrides,
    )

    overrides = _overrides(**{"data.source": data, "data.target": target, "data.task": task, "data.n_rows": rows,
                              "model.name": model_name or (model_name_for(data) if data else None)})
    if seed is not None:
        overrides.update({"data.seed": seed, "split.seed": seed, "training.seed": seed})
    if drop_columns:
        overrides["data.drop_columns"] = list(drop_columns)
    if no_cache:
        overrides["enable_cache"] = False
    if data and not config_path:
        overrides.update(user_data_overrides(data, target))
    config = load_training_config(config_path, overrides)
    preflight_model(config)
    source_fingerprint = preflight_data(config)
    _start(stack or (ctx.obj or {}).get("stack"))
    run_training(config, source_fingerprint, _say)
    return config


def _deployment(model_name: str, config_path: str | None = None, **choice: Any) -> Dict[str, Any]:
    """Deploys `model_name` (its challenger, or `version=`/`alias=`; `force=`, `deployment_name=`) and reports."""
    from pipelines.launch import load_deployment_config, run_deployment

    config = load_deployment_config(config_path, {})
    result = run_deployment(config, model_name, _say, **choice)
    decision = result["decision"]
    _say(f"decision: {decision.decision} ({model_name} v{decision.challenger_version}, champion "
         f"{'v' + decision.champion_version if decision.champion_version else 'none'})")
    for reason in decision.reasons:
        _say(f"  - {reason}")
    _show_endpoint(model_name)
    return result


def _show_endpoint(model_name: str) -> None:
    from pipelines.selection import deployment_of
    from steps.deployment.rollout import active_deployer

    name = deployment_of(model_name)
    info = active_deployer().status(name)
    if info is None:
        _say(f"{model_name} is not serving yet")
        return
    if info.state != "active":
        _say(f"{model_name} is not serving (deployment '{name}' is {info.state}): bring it back with "
             f"`python run.py deployments start {name}`")
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
            config = _training(ctx, None, None, None, None, None, None, None, (), False, stack)
            _deployment(config.model.name)

        _guarded(body)


@cli.command()
@_train_options
@click.pass_context
def train(ctx: click.Context, **options: Any) -> None:
    """Train, evaluate and register a challenger model."""
    _guarded(lambda: _training(ctx, **options))


_MODEL_OPTION = click.option(
    "--model-name", default=None,
    help="Registered model (default: configs/training.yaml's model if registered, else the only deployed one).")


@cli.command()
@click.option("--config", "config_path", default=None, help="Deployment config YAML (default configs/deployment.yaml).")
@_MODEL_OPTION
@click.option("--version", default=None, help="Registry version to deploy (default: the challenger).")
@click.option("--alias", default=None, help="Registry alias to deploy, e.g. previous-champion.")
@click.option("--force", is_flag=True, help="Waive the margin over the champion (thresholds and parity still apply).")
@click.option("--deployment-name", default=None, help="Endpoint name on the first deploy (default: the model name).")
@click.option("--stack", default=None, help="Stack to run on.")
@click.pass_context
def deploy(ctx: click.Context, config_path, model_name, version, alias, force, deployment_name, stack) -> None:
    """Gate a model version (default: the challenger) against the champion and serve it behind the model's own
    endpoint if it wins."""

    def body() -> None:
        from pipelines.selection import choose_model

        _start(stack or (ctx.obj or {}).get("stack"))
        _deployment(choose_model(model_name), config_path, version=version, alias=alias, force=force,
                    deployment_name=deployment_name)

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
@_MODEL_OPTION
@click.option("--version", default=None, help="Model version number (default: the champion, else the latest).")
@click.option("--alias", default=None, help="Model version alias, e.g. champion, challenger.")
@click.option("--offline", is_flag=True, help="Score in-process with the batch inference pipeline, not the endpoint.")
@click.option("--deployment", "deployment_name", default=None, help="Deployment to call (default: the model's own).")
@click.option("--stack", default=None, help="Stack whose deployer serves the model.")
@click.pass_context
def predict(ctx: click.Context, data, out, model_name, version, alias, offline, deployment_name, stack) -> None:
    """Score a file: through the model's endpoint when it serves the chosen version, else offline (no server)."""

    def body() -> None:
        import pandas as pd

        from pipelines.predict import run_batch_inference, serving_endpoint
        from pipelines.selection import choose_model, deployment_of
        from steps.data.sources import load_table

        if version is not None and alias is not None:
            _fail("choose the model version with --version or with --alias, not both")
        frame = load_table(data)
        chosen_stack = stack or (ctx.obj or {}).get("stack")
        recorded = None if offline else _recorded_stack(chosen_stack)
        info = recorded and _recorded_endpoint(recorded, model_name, deployment_name, version, alias)
        if info is not None:
            name = info.model_name
        else:
            _start(chosen_stack, announce=recorded is None)
            name = choose_model(model_name)
            deployment = deployment_name or deployment_of(name)
            info = None if offline else serving_endpoint(deployment, name, version, alias)
        if info is not None:
            predictions, used = _predict_endpoint(info, frame, data), f"endpoint {info.url}"
            number = info.model_version
        else:
            if not offline:
                _say(f"no active endpoint '{deployment}' serves the chosen version of {name}: scoring offline")
            inference = run_batch_inference(data, name, version, alias, _say)
            predictions, number = inference["predictions"], inference["model_version"]
            used = f"offline batch inference (run '{inference['run_name']}')"
        result = pd.concat([frame.reset_index(drop=True), predictions], axis=1)
        _say(f"{len(result)} predictions from model {name} v{number} via {used}")
        if out:
            result.to_csv(out, index=False)
            _say(f"written to {out}")
            if "prediction_id" in predictions.columns:
                _say(f"labels later: add the truth to {out} and run `python run.py feedback --data {out} "
                     f"--model-name {name} --target <label column>` (joined on prediction_id)")
        else:
            _say(result.head(20).to_string())

    _guarded(body)


def _recorded_stack(stack: str | None) -> Any:
    """The recorded active stack (stacks/fast_paths.py) when it can answer a read-only command without ZenML
    (announced like `_start` does), else None."""
    from stacks.fast_paths import local_stack

    recorded = local_stack(stack)
    if recorded is None or recorded.tracking_uri is None:
        return None
    _say_state_dir()
    _say(f"stack: {recorded.name}")
    return recorded


def _recorded_endpoint(recorded: Any, model_name, deployment_name, version, alias) -> Any:
    """The endpoint that serves the chosen model, answered from the recorded stack: the same choice as the full
    path (pipelines/selection.py rules, the registry's model names, the deployer's records) without importing
    ZenML or, unless a version or alias is asked for, MLflow. None when no active endpoint serves the choice: the
    full path then decides (and scores offline)."""
    from pipelines.predict import serving_endpoint
    from pipelines.selection import choose_among, deployment_for

    rows = recorded.backend.list()
    name = choose_among(model_name, recorded.tracking_uri, rows)
    return serving_endpoint(deployment_name or deployment_for(name, rows), name, version, alias, recorded)


def _predict_endpoint(info: Any, frame: Any, data: str) -> Any:
    """The endpoint's predictions for `frame` (columns as `predictions_frame` gives them), plus `prediction_id` when
    the endpoint records what it serves: the id `run.py feedback` joins late labels on."""
    from steps.deployment.endpoint_client import predict_with_ids, predictions_frame

    names = _served_features(info) or list(frame.columns)
    missing = [c for c in names if c not in frame.columns]
    if missing:
        _fail(f"{data}: missing feature column(s) {', '.join(missing)} that model v{info.model_version} needs")
    output_names, values, ids = predict_with_ids(info.url, frame[names])
    predictions = predictions_frame(output_names, values)
    if ids is not None:
        predictions.insert(0, "prediction_id", ids)
    return predictions


def _served_features(info: Any) -> list:
    """Feature names of the served model, from its MLflow signature (input example)."""
    import json
    from pathlib import Path

    path = Path(info.details.get("model_uri", "")) / "input_example.json"
    return json.loads(path.read_text())["columns"] if path.is_file() else []


@cli.group(invoke_without_command=True)
@click.option("--stop", "stop_name", default=None, hidden=True, help="Old spelling of `deployments delete NAME`.")
@click.option("--stack", default=None)
@click.pass_context
def deployments(ctx: click.Context, stop_name, stack) -> None:
    """List deployments (name, model version, state, URL); `start`, `stop` or `delete` one."""
    ctx.ensure_object(dict)
    ctx.obj["stack"] = stack or ctx.obj.get("stack")
    if ctx.invoked_subcommand is not None:
        return

    def body() -> None:
        from stacks.fast_paths import local_deployments

        fast = None if stop_name else local_deployments(ctx.obj["stack"])  # None: ZenML must answer
        if fast:
            _say_state_dir()
            _say(f"stack: {fast[0]}")
            _show_deployments(fast[1])
            return
        deployer = _deployer(ctx)
        if stop_name:
            deployer.delete(stop_name)
            _say(f"deleted deployment '{stop_name}'")
            return
        _show_deployments(deployer.list_deployments())

    _guarded(body)


def _show_deployments(rows: list) -> None:
    if not rows:
        _say("no deployments")
    for info in rows:
        problem = info.details.get("problem", "")
        _say(f"{info.name:24} {info.model_name} v{info.model_version:6} {info.state:8} {info.url}"
             + (f"  ({problem})" if problem else ""))
    down = [i.name for i in rows if i.state != "active"]
    if down:
        _say(f"bring one back: python run.py deployments start {down[0]}")


def _deployer(ctx: click.Context) -> Any:
    from steps.deployment.rollout import active_deployer

    _start((ctx.obj or {}).get("stack"))
    return active_deployer()


@deployments.command("start")
@click.argument("name")
@click.pass_context
def deployments_start(ctx: click.Context, name: str) -> None:
    """Serve a stopped or crashed deployment again, from its recorded model version."""

    def body() -> None:
        info = _deployer(ctx).start(name)
        _say(f"{name}: serving {info.model_name} v{info.model_version} at {info.url}")

    _guarded(body)


@deployments.command("stop")
@click.argument("name")
@click.pass_context
def deployments_stop(ctx: click.Context, name: str) -> None:
    """Stop serving (the record stays, so `deployments start NAME` brings it back)."""

    def body() -> None:
        _deployer(ctx).stop(name)
        _say(f"stopped deployment '{name}' (bring it back: python run.py deployments start {name})")

    _guarded(body)


@deployments.command("delete")
@click.argument("name")
@click.pass_context
def deployments_delete(ctx: click.Context, name: str) -> None:
    """Stop serving and forget the deployment."""

    def body() -> None:
        _deployer(ctx).delete(name)
        _say(f"deleted deployment '{name}'")

    _guarded(body)


@cli.group()
def abtest() -> None:
    """A/B test a registered version against the serving champion: start, status, stop."""


_ABTEST_CONFIG = click.option("--config", "config_path", default=None,
                              help="Deployment config YAML with the abtest section (default configs/deployment.yaml).")


@abtest.command("start")
@_ABTEST_CONFIG
@_MODEL_OPTION
@click.option("--version", default=None, help="Registry version to test as challenger (default: alias challenger).")
@click.option("--alias", default=None, help="Registry alias of the version to test.")
@click.option("--split", "split_percent", type=int, default=None, help="Percent of requests to the challenger "
              "(1..99; default: abtest.split_percent).")
@click.option("--sticky-header", default=None, help="Route by this request header: one value, one variant.")
@click.option("--shadow", is_flag=True, help="Mirror every request to the challenger; clients get the champion.")
@click.option("--stack", default=None)
@click.pass_context
def abtest_start(ctx: click.Context, config_path, model_name, version, alias, split_percent, sticky_header, shadow,
                 stack) -> None:
    """Serve a version as challenger beside the champion (same checks as a deploy) and print the test's plan."""

    def body() -> None:
        from pipelines.abtest import start_abtest
        from pipelines.launch import load_deployment_config
        from pipelines.selection import choose_model

        config = load_deployment_config(config_path, {})
        _start(stack or (ctx.obj or {}).get("stack"))
        start_abtest(config, choose_model(model_name), version=version, alias=alias, split_percent=split_percent,
                     sticky_header=sticky_header, shadow=shadow, say=_say)

    _guarded(body)


@abtest.command("status")
@_ABTEST_CONFIG
@_MODEL_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option("--record", is_flag=True, help="Also record it: ZenML artifact (HTML view) and MLflow run.")
@click.option("--stack", default=None)
@click.pass_context
def abtest_status(ctx: click.Context, config_path, model_name, as_json, record, stack) -> None:
    """Per-variant traffic, errors, latency, predictions, realized and estimated metric, verdict, guardrails (a
    breached guardrail aborts the test)."""

    def body() -> None:
        import contextlib
        import json
        import sys

        from pipelines.abtest import abtest_status as status
        from pipelines.launch import load_deployment_config
        from pipelines.selection import choose_model

        config = load_deployment_config(config_path, {})
        if as_json:  # stdout carries the JSON only: what the stack set-up says goes to stderr
            with contextlib.redirect_stdout(sys.stderr):
                _start(stack or (ctx.obj or {}).get("stack"))
                summary = status(config, choose_model(model_name), record=record, say=lambda _: None)
        else:
            _start(stack or (ctx.obj or {}).get("stack"))
            summary = status(config, choose_model(model_name), record=record, say=_say)
        if as_json:
            click.echo(json.dumps(summary, indent=1, default=str))

    _guarded(body)


@abtest.command("stop")
@_ABTEST_CONFIG
@_MODEL_OPTION
@click.option("--promote", is_flag=True, help="Make the challenger the champion (aliases, ZenML stage, endpoint).")
@click.option("--abort", is_flag=True, help="Stop the challenger; the champion and aliases stay as they are.")
@click.option("--stack", default=None)
@click.pass_context
def abtest_stop(ctx: click.Context, config_path, model_name, promote, abort, stack) -> None:
    """End the A/B test: --promote or --abort."""

    def body() -> None:
        from pipelines.abtest import ABTestError, stop_abtest
        from pipelines.launch import load_deployment_config
        from pipelines.selection import choose_model

        if promote == abort:
            raise ABTestError("abtest stop: say how the test ends: --promote or --abort")
        config = load_deployment_config(config_path, {})
        _start(stack or (ctx.obj or {}).get("stack"))
        stop_abtest(config, choose_model(model_name), promote=promote, say=_say)

    _guarded(body)


@cli.command()
@click.option("--config", "config_path", default=None, help="Deployment config YAML.")
@_MODEL_OPTION
@click.option("--stack", default=None)
@click.pass_context
def rollback(ctx: click.Context, config_path, model_name, stack) -> None:
    """Serve a model's previous champion again (parity-checked, blue/green) and make it the champion."""

    def body() -> None:
        from pipelines.launch import load_deployment_config, rollback_champion
        from pipelines.selection import choose_model

        config = load_deployment_config(config_path, {})
        _start(stack or (ctx.obj or {}).get("stack"))
        record = rollback_champion(config, choose_model(model_name), _say)
        _say(f"rolled back: {record.model_name} v{record.model_version} serving at {record.url}")

    _guarded(body)


@cli.command()
@click.option("--data", default=None, help="Batch file (CSV/Parquet); default: a generated batch.")
@click.option("--rows", type=int, default=1000, show_default=True, help="Rows of a generated batch.")
@click.option("--drift", type=float, default=0.0, show_default=True, help="Drift level of a generated batch (0-1).")
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--config", "config_path", default=None, help="Monitoring config YAML.")
@click.option("--retrain/--no-retrain", default=True, show_default=True, help="Retrain when the decision says so.")
@click.option("--live", is_flag=True, help="Monitor what the endpoint served (recorded windows) instead of a batch.")
@click.option("--since", default=None, help="With --live: the windows of the last 15m, 1h, 2d... (default: since "
                                            "the last check).")
@click.option("--every", default=None, help="With --live: run on a schedule (15m, 1h, ...) as a background process; "
                                            "see `run.py schedule status`.")
@click.option("--schedule", "cron", default=None,
              help="With --live, on the kubernetes stack: a cron expression (\"*/15 * * * *\"); the pipeline runs as a "
                   "ZenML schedule (a CronJob). Locally use --every.")
@_MODEL_OPTION
@click.option("--stack", default=None)
@click.pass_context
def monitor(ctx: click.Context, data, rows, drift, seed, config_path, retrain, live, since, every, cron, model_name,
            stack) -> None:
    """Validate, profile and score a batch (or the endpoint's live traffic); report drift and decay; retrain if
    needed."""

    def body() -> None:
        from pipelines.continuous_training import load_monitoring_config, retrain as retrain_model, run_monitoring
        from pipelines.selection import choose_model

        config = load_monitoring_config(config_path, {})
        if since and not live:
            _fail("--since selects recorded windows: use it with --live")
        if cron:
            _schedule_on_cluster(config, cron, every, since, data, live, model_name, stack or (ctx.obj or {}).get("stack"))
            return
        if every:
            stack_name = stack or (ctx.obj or {}).get("stack")
            _start_live_schedule(every, since, data, live, config_path, model_name, stack_name)
            return
        if live:
            from pipelines.live_monitoring import run_live_monitoring
            from steps.monitoring.live import parse_duration

            if data:
                _fail("--live monitors the endpoint's recorded traffic: leave out --data")
            if since:
                parse_duration(since)  # fail fast on a bad duration
            _start(stack or (ctx.obj or {}).get("stack"))
            outcome = run_live_monitoring(config, choose_model(model_name), since, _say)
            if outcome["decision"].action == "retrain":
                _say("retraining needs labels: feed them back (`python run.py feedback --data labels.csv ...` or "
                     "the endpoint's /api/v1.0/feedback), then retrain with `python run.py monitor --data <labelled "
                     "batch>` or `python run.py train`")
            return
        if data:
            from steps.data.sources import load_table

            load_table(data)  # fail fast on a missing or unreadable file
            source = {"path": str(data)}
        else:
            source = {"generator": {"n_rows": rows, "seed": seed, "drift": drift}}
        _start(stack or (ctx.obj or {}).get("stack"))
        name = choose_model(model_name)
        outcome = run_monitoring(config, name, source, _say)
        if outcome["decision"].action == "retrain" and retrain:
            retrain_model(config, name, [outcome["batch"]], _say)
            _show_endpoint(name)

    _guarded(body)


def _start_live_schedule(every: str, since: str | None, data: str | None, live: bool, config_path: str | None,
                         model_name: str | None, stack: str | None) -> None:
    """`monitor --live --every 15m`: checks, then starts the schedule detached and says how to watch and stop it."""
    from monitoring import schedule
    from pipelines.selection import choose_model, deployment_of
    from steps.deployment.rollout import active_deployer
    from steps.monitoring.live import live_dir_of, parse_duration

    if not live or data:
        _fail("--every schedules live monitoring: use it with --live and without --data")
    if since:
        _fail("--every monitors the windows since the last check each time: leave out --since")
    seconds = parse_duration(every)
    _start(stack)
    name = choose_model(model_name)
    info = active_deployer().status(deployment_of(name))
    live_dir_of(info)  # a deployment that records: else every run would fail
    if (info.details or {}).get("backend") == "kubernetes":  # its windows are on a claim this machine cannot read
        _fail(f"'{info.name}' records on the cluster: schedule its live monitoring there with "
              "`python run.py monitor --live --schedule \"*/15 * * * *\"` (a CronJob)")
    info = schedule.start(schedule.schedule_name(name), seconds, schedule.monitor_command(name, config_path, stack),
                          config_path)
    _say(f"live monitoring of '{name}' runs every {every} in the background (first run now)")
    _say(schedule.describe(info))
    _say(f"see it: python run.py schedule status {info['name']}")


def _schedule_on_cluster(config: Any, cron: str, every: str | None, since: str | None, data: str | None, live: bool,
                         model_name: str | None, stack: str | None) -> None:
    """`monitor --live --schedule "*/15 * * * *"`: the live monitoring pipeline as a ZenML schedule (kubernetes)."""
    from pipelines.live_monitoring import schedule_live_monitoring
    from pipelines.selection import choose_model
    from stacks.live_schedule import check_cron, kubernetes_orchestrator

    if not live or data:
        _fail("--schedule schedules live monitoring: use it with --live and without --data")
    if every:
        _fail("--schedule (a CronJob on the kubernetes stack) and --every (a local background process): choose one")
    if since:
        _fail("--schedule monitors the windows since the last check each time: leave out --since")
    check_cron(cron)
    _start(stack)
    kubernetes_orchestrator()  # before choosing a model: on the local stack the answer is --every
    schedule_live_monitoring(config, choose_model(model_name), cron, _say)


@cli.group("schedule")
def schedule_group() -> None:
    """Scheduled live monitoring (`run.py monitor --live --every 15m`): status and stop."""


@schedule_group.command("status")
@click.argument("name", required=False)
def schedule_status(name: str | None) -> None:
    """Show one schedule (live-<model>) or all of them."""

    def body() -> None:
        from monitoring import schedule

        infos = [schedule.status(name)] if name else schedule.list_schedules()
        if not infos:
            _say("no schedules; start one with `python run.py monitor --live --every 15m`")
        for info in infos:
            _say(schedule.describe(info))

    _guarded(body)


@schedule_group.command("stop")
@click.argument("name")
def schedule_stop(name: str) -> None:
    """Stop a schedule (and a run in progress)."""

    def body() -> None:
        from monitoring import schedule

        _say(f"schedule {name} stopped" if schedule.stop(name) else f"schedule {name} was not running")

    _guarded(body)


@cli.command()
@click.option("--data", required=True, help="CSV/Parquet file with prediction ids and their true labels.")
@click.option("--id-column", default="prediction_id", show_default=True,
              help="Column holding the ids the endpoint returned (response meta.tags.prediction_ids).")
@click.option("--target", required=True, help="Column holding the true label (or value).")
@_MODEL_OPTION
@click.option("--stack", default=None)
@click.pass_context
def feedback(ctx: click.Context, data, id_column, target, model_name, stack) -> None:
    """Labels arrived: join them to what the endpoint served and show realized performance per window."""

    def body() -> None:
        from pipelines.live_monitoring import record_labels
        from pipelines.selection import choose_model

        _start(stack or (ctx.obj or {}).get("stack"))
        record_labels(choose_model(model_name), data, id_column, target, _say)

    _guarded(body)


@cli.command()
@click.option("--days", type=int, default=8, show_default=True)
@click.option("--drift-from", type=int, default=3, show_default=True, help="First day with injected drift.")
@click.option("--out", "out_dir", default=None, help="Directory for the timeline PNG (default: the run state).")
@click.option("--config", "config_path", default=None, help="Monitoring config YAML.")
@_MODEL_OPTION
@click.option("--stack", default=None)
@click.pass_context
def simulate(ctx: click.Context, days, drift_from, out_dir, config_path, model_name, stack) -> None:
    """Daily batches with drift from day K: monitoring, retraining and redeploys, and a timeline plot."""

    def body() -> None:
        from pathlib import Path

        from pipelines.continuous_training import load_monitoring_config, simulate as run_simulation
        from pipelines.selection import choose_model
        from core.state import state_dir

        if days < 1:
            _fail(f"--days must be at least 1, got {days}")
        config = load_monitoring_config(config_path, {})
        _start(stack or (ctx.obj or {}).get("stack"))
        target = Path(out_dir) if out_dir else state_dir() / "simulation"
        target.mkdir(parents=True, exist_ok=True)
        run_simulation(config, choose_model(model_name), days, drift_from, target, _say)

    _guarded(body)


@cli.group()
def monitoring() -> None:
    """Local Prometheus + Pushgateway + Alertmanager with the project's scrape config and alert rules."""


def _add_stack_commands() -> None:
    from stacks.commands import dashboard, stack

    cli.add_command(stack)
    cli.add_command(dashboard)


_add_stack_commands()


@monitoring.command("up")
@click.option("--config", "config_path", default=None, help="Monitoring config (default configs/monitoring.yaml).")
def monitoring_up(config_path: str | None) -> None:
    """Start Prometheus, the Pushgateway and Alertmanager (127.0.0.1), scraping the local endpoints; alerts go
    to the config's alerts.webhook_url."""

    def body() -> None:
        from monitoring import local
        from pipelines.continuous_training import load_monitoring_config
        from steps.deployment.rollout import scrape_targets

        config = load_monitoring_config(config_path, {})
        _start(None)
        info = local.up(scrape_targets(), alerts=config.alerts)
        _say(local.describe(info))

    _guarded(body)


@monitoring.command("down")
def monitoring_down() -> None:
    """Stop the local Prometheus, Pushgateway and Alertmanager."""
    from monitoring import local

    local.down()
    _say("monitoring stopped")


@monitoring.command("status")
def monitoring_status() -> None:
    from monitoring import local

    _say(local.describe(local.status()))


def main() -> None:
    """Runs the CLI, then leaves the way the interpreter would, minus tearing down every module's objects: after a
    pipeline that teardown took 1.4-3 s (measured, docs/benchmarks.md) and has nothing left to do. The steps before
    it are the interpreter's own, in its order: threading's exit hooks and the join of non-daemon threads, then the
    exit handlers (log and metadata flushes, the fast-path record)."""
    import atexit
    import os
    import threading

    try:
        cli(obj={})  # click ends with SystemExit in standalone mode; other exceptions exit the usual way
        code: Any = 0
    except SystemExit as exc:
        code = exc.code
    if isinstance(code, str):  # what Python does with sys.exit("message")
        print(code, file=sys.stderr)
        code = 1
    threading._shutdown()  # what the interpreter does first: threading's exit hooks (thread pools), then the joins
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


if __name__ == "__main__":
    main()
