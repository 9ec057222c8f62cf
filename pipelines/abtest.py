"""`run.py abtest start|status|stop`: an A/B test between the serving champion and a registered challenger.

start  - under the model's release lock: the chosen version (default: alias `challenger`) passes the same checks as
         a deploy (health, own input example, parity on its holdout) and starts beside the champion behind the same
         URL with the configured split; the plan (labelled requests per variant) is fixed and printed.
status - per-variant requests, errors and p99 (ingress), prediction distribution, realized metric (feedback
         labels), CBPE estimate where labels are missing (binary), the verdict with its interval; the guardrail is
         checked and a breach aborts the test at once (`--record`: also the ZenML artifact and MLflow run).
stop   - under the release lock: `--promote` makes the challenger the only serving model and promotes it through
         the same registry aliases and ZenML stage as a deploy (steps.deployment.rollout.promote_served);
         `--abort` removes it. Either way the result is recorded (ZenML artifact linked to both model versions,
         MLflow run with the summary and the HTML page).
The test's fixed facts (versions, plan, split, start time) are kept in `<state>/abtests/<deployment>.json`.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any, Callable, Dict, Optional

from core.config import DeploymentConfig
from zenml import pipeline

from steps.abtest.steps import record_abtest_result


class ABTestError(RuntimeError):
    """An A/B test command cannot do what was asked (none running, one running already, bad choice)."""


@pipeline(enable_cache=False)
def abtest_result_pipeline(model_name: str, result: Dict[str, Any], tracking_uri: Optional[str]) -> None:
    """Records an A/B test's result: the ABTestResult artifact (HTML view) and an MLflow run."""
    record_abtest_result(model_name, result, tracking_uri)


# -- the test's record --------------------------------------------------------------------------------------------
def state_path(deployment: str) -> Path:
    from core.state import state_dir

    folder = state_dir() / "abtests"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{deployment}.json"


def read_test(deployment: str) -> Optional[Dict[str, Any]]:
    path = state_path(deployment)
    return json.loads(path.read_text()) if path.is_file() else None


def refuse_during_test(model_name: str) -> None:
    """A deploy or rollback while an A/B test runs on the model's endpoint is refused, saying how to end it."""
    from pipelines.selection import deployment_of

    test = read_test(deployment_of(model_name))
    if test:
        raise ABTestError(f"model '{model_name}': an A/B test (champion v{test['champion']['version']}, challenger "
                          f"v{test['challenger']['version']}) is running since {test['started']}; end it first: "
                          f"python run.py abtest stop --model-name {model_name} --promote | --abort")


# -- start --------------------------------------------------------------------------------------------------------
def start_abtest(config: DeploymentConfig, model_name: str, version: Optional[str] = None,
                 alias: Optional[str] = None, split_percent: Optional[int] = None,
                 sticky_header: Optional[str] = None, shadow: bool = False,
                 say: Callable[[str], None] = print) -> Dict[str, Any]:
    from core import names
    from pipelines.selection import deployment_of
    from stacks.seldon.spec import TrafficSplit
    from steps.abtest.statistics import default_metric, plan_from_config
    from steps.deployment.registry import by_version, resolve_version
    from steps.deployment.release_lock import release_lock
    from steps.deployment.rollout import active_deployer, start_challenger_version, tracking_uri, training_artifacts
    from steps.training.tracking import CHALLENGER_ALIAS

    settings = config.abtest
    split = TrafficSplit(challenger_percent=split_percent or settings.split_percent,
                         sticky_header=sticky_header or (None if shadow else settings.sticky_header), shadow=shadow)
    with release_lock(model_name, "abtest start", say=say):
        deployment = deployment_of(model_name)
        deployer = active_deployer()
        serving = deployer.status(deployment)
        if serving is None or serving.state != "active" or serving.model_name != model_name:
            raise ABTestError(f"model '{model_name}' has no serving champion on '{deployment}' to test against: "
                              f"deploy one first (python run.py deploy --model-name {model_name})")
        if read_test(deployment) or deployer.challenger(deployment):
            raise ABTestError(f"an A/B test is already running on '{deployment}': "
                              f"python run.py abtest status --model-name {model_name}")
        uri = tracking_uri()
        ref = resolve_version(model_name, version, None if version else (alias or CHALLENGER_ALIAS), uri)
        champion = by_version(model_name, serving.model_version, uri)
        if champion is None:
            raise ABTestError(f"the serving version {serving.model_version} of '{model_name}' is not in the registry")
        if ref.version == champion.version:
            raise ABTestError(f"v{ref.version} of '{model_name}' is the serving champion; choose another version "
                              "(--version N or --alias A)")
        challenger_mv, holdout, schema = training_artifacts(ref)
        champion_mv = training_artifacts(champion)[0]
        metric = default_metric(schema.task, settings.metric)
        baseline = champion_mv.get_artifact(names.EVALUATION_REPORT).load().metrics.get(metric)
        if baseline is None:
            raise ABTestError(f"the champion v{champion.version} has no holdout {metric!r} to plan the test from")
        positive_rate = None
        if schema.task == "binary":
            positive_rate = float((holdout[schema.target] == schema.classes[1]).mean())
        plan = plan_from_config(settings, schema.task, float(baseline), positive_rate=positive_rate)
        say(f"starting v{ref.version} as challenger of v{champion.version} on '{deployment}': {split.describe()}")
        record = start_challenger_version(ref, holdout, schema, config.serving, deployment,
                                          config.gate.parity_tolerance, uri, split)
        test = {
            "model_name": model_name, "deployment": deployment, "started": time.strftime("%Y-%m-%d %H:%M:%S UTC",
                                                                                       time.gmtime()),
            "started_at": time.time(), "split": dataclasses.asdict(split), "plan": dataclasses.asdict(plan),
            "task": schema.task, "classes": list(schema.classes or []),
            "champion": _identity(champion, champion_mv), "challenger": _identity(ref, challenger_mv),
            "url": record.url, "parity": record.parity,
        }
        state_path(deployment).write_text(json.dumps(test, indent=1, default=str))
    say(f"A/B test running at {record.url} (responses carry the header X-Model-Variant)")
    say(f"plan: {plan.required_per_variant} labelled requests per variant to detect a difference of "
        f"{plan.min_detectable_effect:g} in {metric} from the champion's {plan.baseline:.4f} ({plan.method}, alpha "
        f"{plan.alpha:g}, power {plan.power:g}); the verdict stays 'not enough data' until both variants have them")
    return test


def _identity(ref: Any, model_version: Any) -> Dict[str, Any]:
    return {"version": ref.version, "run_id": ref.run_id, "zenml_model_version": str(model_version.id),
            "zenml_model_version_name": str(model_version.name)}


# -- status -------------------------------------------------------------------------------------------------------
def abtest_status(config: DeploymentConfig, model_name: str, record: bool = False,
                  say: Callable[[str], None] = print) -> Dict[str, Any]:
    """The test's status (printed); a breached guardrail aborts the test and records the result."""
    from pipelines.selection import deployment_of

    deployment = deployment_of(model_name)
    test = read_test(deployment)
    if test is None:
        raise ABTestError(f"no A/B test is running on '{deployment}' (start one: python run.py abtest start "
                          f"--model-name {model_name} --version N)")
    status = _evaluate(config, test)
    for line in status.lines():
        say(line)
    summary = {**status.summary(), "test": _public(test)}
    _push_metrics(model_name, status)
    if status.guardrails.breached:
        say("aborting the A/B test: the guardrail was breached; the champion keeps serving")
        _end(config, test, promote=False, status=status, say=say)
        summary["aborted"] = True
    elif record:
        summary["recorded"] = _record(test, status, "status", say)
    return summary


def _public(test: Dict[str, Any]) -> Dict[str, Any]:
    return {k: test[k] for k in ("model_name", "deployment", "started", "split", "champion", "challenger", "url")}


def _evaluate(config: DeploymentConfig, test: Dict[str, Any]) -> Any:
    from steps.abtest.statistics import TestPlan
    from steps.abtest.status import evaluate_test
    from steps.abtest.variants import VariantRecords, variant_records
    from steps.deployment.rollout import active_deployer
    from steps.monitoring.live import LiveTrafficError, as_label, live_dir_of

    deployer = active_deployer()
    deployment = test["deployment"]
    shadow = bool(test["split"]["shadow"])
    classes = [as_label(c, []) for c in test["classes"]]
    positive = classes[1] if test["task"] == "binary" else None
    versions = {role: test[role]["version"] for role in ("champion", "challenger")}
    try:
        directory = live_dir_of(deployer.status(deployment))
    except LiveTrafficError:  # a backend that records no traffic (Kubernetes): no labels, health only
        records = {role: VariantRecords(role, version) for role, version in versions.items()}
    else:
        records = variant_records(directory, versions, test["started_at"], classes, shadow)
    traffic = deployer.variant_traffic(deployment, test["started_at"])
    identities = {role: {"name": test["model_name"], "run_id": test[role]["run_id"]}
                  for role in ("champion", "challenger")}
    return evaluate_test(TestPlan(**test["plan"]), traffic, records, classes, positive, config.abtest.guardrails,
                         shadow, identities, _estimators(test) if positive is not None else None)


def _estimators(test: Dict[str, Any]) -> Dict[str, Any]:
    """CBPE of the plan's metric per variant, each calibrated on its own model's holdout (binary classifiers)."""
    from zenml.client import Client

    from core import names
    from steps.monitoring.cbpe import estimate
    from steps.monitoring.estimated import holdout_calibration

    metric = test["plan"]["metric"]
    if metric not in ("accuracy", "roc_auc"):
        return {}
    out = {}
    for role in ("champion", "challenger"):
        version = Client().get_model_version(test["model_name"], test[role]["zenml_model_version"])
        holdout, predictions = (version.get_artifact(a) for a in (names.HOLDOUT_SET, names.HOLDOUT_PREDICTIONS))
        schema = version.get_artifact(names.DATA_SCHEMA).load()
        if holdout is None or predictions is None:
            continue
        calibration = holdout_calibration(holdout.load(), predictions.load(), schema.target, schema.classes)
        out[role] = lambda scores, c=calibration: estimate(c, scores)[metric]
    return out


def _push_metrics(model_name: str, status: Any) -> None:
    """Per-variant gauges (label `variant`) to the Pushgateway when local monitoring runs."""
    from monitoring import local
    from monitoring import metrics as m
    from monitoring.push import PushgatewayError, push_monitoring_results, series

    state = local.status()
    gateway = state.get("pushgateway_url") if state.get("running") else None
    if not gateway:
        return
    values: Dict[str, float] = {m.ABTEST_LAST_STATUS_TIMESTAMP: time.time()}
    for h in status.health:
        values[series(m.ABTEST_REQUESTS, variant=h.name)] = float(h.requests)
        values[series(m.ABTEST_ERRORS, variant=h.name)] = float(h.errors)
        if h.p99_ms is not None:
            values[series(m.ABTEST_P99_SECONDS, variant=h.name)] = h.p99_ms / 1000.0
        info = status.variants.get(h.name, {})
        values[series(m.ABTEST_LABELLED, variant=h.name)] = float(info.get("labelled", 0))
        if info.get("realized") is not None:
            values[series(m.ABTEST_METRIC, variant=h.name, metric=status.verdict.metric)] = float(info["realized"])
    for verdict in ("not enough data", "challenger better", "no difference", "challenger worse"):
        values[series(m.ABTEST_VERDICT, verdict=verdict)] = float(status.verdict.verdict == verdict)
    try:
        push_monitoring_results(gateway, m.ABTEST_JOB, values, {m.MODEL_LABEL: model_name})
    except PushgatewayError as exc:
        print(f"A/B test figures not pushed to Prometheus: {exc}")


# -- stop ---------------------------------------------------------------------------------------------------------
def stop_abtest(config: DeploymentConfig, model_name: str, promote: bool,
                say: Callable[[str], None] = print) -> Dict[str, Any]:
    from pipelines.selection import deployment_of
    from steps.deployment.release_lock import release_lock

    with release_lock(model_name, "abtest stop", say=say):
        deployment = deployment_of(model_name)
        test = read_test(deployment)
        if test is None:
            raise ABTestError(f"no A/B test is running on '{deployment}'")
        status = _evaluate(config, test)
        for line in status.lines():
            say(line)
        if promote and status.guardrails.breached:
            raise ABTestError("not promoting: the challenger breached the guardrail ("
                              + "; ".join(status.guardrails.reasons) + "); abort the test instead (--abort)")
        return _end(config, test, promote, status, say)


def _end(config: DeploymentConfig, test: Dict[str, Any], promote: bool, status: Any,
         say: Callable[[str], None]) -> Dict[str, Any]:
    from steps.deployment.record import DeploymentRecord
    from steps.deployment.release_lock import release_lock
    from steps.deployment.rollout import active_deployer, promote_served, refresh_scrape_targets, tracking_uri

    model_name, deployment = test["model_name"], test["deployment"]
    challenger = test["challenger"]
    with release_lock(model_name, "abtest stop", say=say):  # re-entrant: already held when called from stop
        deployer = active_deployer()
        if deployer.challenger(deployment):
            info = deployer.end_challenger(deployment, promote, timeout=config.serving.timeout_seconds)
        elif promote:
            raise ABTestError(f"the challenger v{challenger['version']} no longer serves on '{deployment}' (stopped "
                              "or redeployed meanwhile): nothing to promote; end the test with --abort")
        else:  # the daemon side ended already (e.g. `deployments stop`): only the record is left
            info = deployer.status(deployment)
        outcome: Dict[str, Any] = {"promoted": False, "champion": test["champion"]["version"]}
        if promote:
            record = DeploymentRecord(deployment_name=deployment, deployed=True, model_name=model_name,
                                      model_version=challenger["version"], url=info.url, state=info.state,
                                      parity=test.get("parity") or {}, notes=["promoted from an A/B test"])
            previous = promote_served(record, challenger["zenml_model_version"], tracking_uri())
            outcome = {"promoted": True, "champion": challenger["version"], "previous_champion": previous}
            say(f"v{challenger['version']} is now the champion (previous: v{previous}); serving alone at {info.url}")
        else:
            say(f"challenger v{challenger['version']} stopped; v{test['champion']['version']} serves alone at "
                f"{info.url if info else test['url']}")
        state_path(deployment).unlink(missing_ok=True)
    refresh_scrape_targets()
    outcome["recorded"] = _record(test, status, "promoted" if promote else "aborted", say)
    return {**status.summary(), "test": _public(test), **outcome}


def _record(test: Dict[str, Any], status: Any, ending: str, say: Callable[[str], None]) -> Dict[str, Any]:
    """The result as a ZenML artifact (linked to both model versions) and an MLflow run."""
    from zenml import link_artifact_to_model
    from zenml.client import Client
    from zenml.enums import ExecutionMode
    from zenml.model.model import Model

    from core import names
    from pipelines.launch import summarize_run
    from steps.deployment.rollout import tracking_uri

    result = {**status.summary(), "test": _public(test), "ending": ending}
    run = abtest_result_pipeline.with_options(execution_mode=ExecutionMode.FAIL_FAST)(
        model_name=test["model_name"], result=result, tracking_uri=tracking_uri())
    summary = summarize_run(run, say)
    step = Client().get_pipeline_run(run.id).steps["record_abtest_result"]
    artifact = step.outputs[names.ABTEST_RESULT][0]
    for role in ("champion", "challenger"):
        link_artifact_to_model(artifact, Model(name=test["model_name"],
                                               version=test[role]["zenml_model_version_name"]))
    mlflow_run = step.outputs[names.ABTEST_MLFLOW_RUN][0].load()
    say(f"A/B test result: ZenML artifact '{names.ABTEST_RESULT}' (run {summary['run_name']}), linked to both model "
        f"versions; MLflow run {mlflow_run}")
    return {"artifact_id": str(artifact.id), "pipeline_run": summary["run_name"], "mlflow_run_id": mlflow_run}
