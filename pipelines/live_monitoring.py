"""`run.py monitor --live`: the monitoring pipeline on the traffic the model's endpoint recorded."""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

from core.config import MonitoringConfig


def live_source(model_name: str, since: Optional[str] = None) -> Dict[str, Any]:
    """The monitoring pipeline's live source for the model's endpoint: where its windows are as the steps see them,
    `since`, and where the checkpoint is kept (next to the windows locally; in the artifact store on Kubernetes,
    where the steps mount the recording volume read-only)."""
    from pipelines.selection import deployment_of
    from steps.deployment.rollout import active_deployer
    from steps.monitoring.live import live_dir_of

    deployment = deployment_of(model_name)
    info = active_deployer().status(deployment)
    source: Dict[str, Any] = {"deployment": deployment, "directory": str(live_dir_of(info)), "since": since}
    if (info.details or {}).get("backend") == "kubernetes":
        from zenml.client import Client

        store = Client().active_stack.artifact_store.path.rstrip("/")
        source.update(checkpoint=f"{store}/live-checkpoints/{deployment}.json",
                      recording_claim=info.details.get("recording_claim"))
    return source


def cluster_settings(source: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """On the kubernetes stack: the orchestrator settings that mount the endpoint's recording claim read-only in the
    pipeline's pods (stacks/live_schedule.py); None elsewhere."""
    if not source.get("recording_claim"):
        return None
    from zenml.client import Client

    from stacks.live_schedule import ORCHESTRATOR_SETTINGS_KEY, live_schedule_settings

    orchestrator = Client().active_stack.orchestrator
    if orchestrator.flavor != "kubernetes":
        return None
    return {ORCHESTRATOR_SETTINGS_KEY: live_schedule_settings(orchestrator.config, source["recording_claim"])}


def run_live_monitoring(
    config: MonitoringConfig, model_name: str, since: Optional[str] = None, say: Callable[[str], None] = print
) -> Dict[str, Any]:
    """Monitors the windows recorded since the last check (or in the last `since`) against the champion (the
    decision uses the performance estimated for them when they carry no labels). The
    pipeline's first step chooses the windows and its last one moves the checkpoint, only when the run succeeded, so
    a failed check is repeated, never skipped; here the windows are only previewed, when this process sees them."""
    import time
    from pathlib import Path

    from pipelines.continuous_training import run_monitoring
    from steps.monitoring.live import select_windows

    source = live_source(model_name, since)
    directory = Path(source["directory"])
    readable = directory.is_dir() and "checkpoint" not in source
    if readable:  # an empty selection fails here, in one clear line, before a pipeline run starts
        windows, covered = select_windows(directory, since, time.time())
        say(f"live monitoring of '{source['deployment']}': {len(windows)} window(s), {covered}, from {directory}")
    else:
        say(f"live monitoring of '{source['deployment']}': the steps read the windows from {directory} "
            f"(checkpoint {source.get('checkpoint', 'next to them')})")
    outcome = run_monitoring(config, model_name, {"live": source}, say, cluster_settings(source))
    if not readable:
        return outcome
    from steps.monitoring.realized import realized_by_window

    schema = champion_schema(model_name)
    realized = realized_by_window(directory, schema.task, schema.classes)
    if not realized.empty:
        say("realized performance per window (labels fed back):\n"
            + realized.to_string(index=False, float_format="%.4f"))
    outcome["realized"] = realized
    outcome["estimated"] = _estimates(model_name, directory, schema, say)
    return outcome


def schedule_live_monitoring(
    config: MonitoringConfig, model_name: str, cron: str, say: Callable[[str], None] = print
) -> Any:
    """`run.py monitor --live --schedule CRON` on the kubernetes stack: the live monitoring pipeline as a ZenML
    schedule, which ZenML's kubernetes orchestrator turns into a CronJob. Each run chooses its windows since the
    checkpoint (kept in the artifact store) and reads them from the recording claim, mounted read-only."""
    from zenml.config.schedule import Schedule
    from zenml.enums import ExecutionMode

    from pipelines.continuous_training import monitoring_arguments
    from pipelines.monitoring import monitoring_pipeline
    from stacks.live_schedule import check_cron, kubernetes_orchestrator, recording_claim_of

    cron = check_cron(cron)
    orchestrator = kubernetes_orchestrator()
    source = live_source(model_name)
    claim = recording_claim_of(source, source["deployment"])
    schedule = Schedule(name=f"live-{source['deployment']}", cron_expression=cron)
    monitoring_pipeline.with_options(execution_mode=ExecutionMode.FAIL_FAST, schedule=schedule,
                                     settings=cluster_settings(source),
                                     )(**monitoring_arguments(config, model_name, {"live": source}))
    say(f"live monitoring of '{source['deployment']}' scheduled ({cron}) as a CronJob in namespace "
        f"{orchestrator.config.kubernetes_namespace}: windows from claim '{claim}' (read-only), checkpoint "
        f"{source['checkpoint']}")
    say("see it: kubectl get cronjobs -n " + str(orchestrator.config.kubernetes_namespace)
        + "; zenml pipeline schedule list")
    return schedule


def _estimates(model_name: str, directory: Any, schema: Any, say: Callable[[str], None]) -> Any:
    """Estimated performance per window before labels arrive (CBPE for classifiers, DLE for regressors)."""
    import pandas as pd
    from zenml.client import Client
    from zenml.enums import ModelStages

    from core import names
    from steps.monitoring.estimated import estimated_by_window, fit_performance_estimator

    version = Client().get_model_version(model_name, ModelStages.PRODUCTION)
    holdout, predictions = (version.get_artifact(a) for a in (names.HOLDOUT_SET, names.HOLDOUT_PREDICTIONS))
    if holdout is None or predictions is None:
        return pd.DataFrame()
    estimator = fit_performance_estimator(schema.task, holdout.load(), predictions.load(), schema.target,
                                          schema.classes, schema.features)
    if estimator is None:
        return pd.DataFrame()
    estimated = estimated_by_window(directory, estimator, schema.features, schema.target, schema.classes)
    if not estimated.empty:
        quality = ", ".join(f"{k} {v:.4f}" for k, v in estimator.quality.items())
        say(f"estimated performance per window ({estimator.method}, fitted on the holdout: {quality}):\n"
            + estimated.to_string(index=False, float_format="%.4f"))
    return estimated


def champion_schema(model_name: str) -> Any:
    from zenml.client import Client
    from zenml.enums import ModelStages

    from core import names

    version = Client().get_model_version(model_name, ModelStages.PRODUCTION)
    return version.get_artifact(names.DATA_SCHEMA).load()


def record_labels(
    model_name: str, path: str, id_column: str, target: str, say: Callable[[str], None] = print
) -> Any:
    """Labels from a file, joined by prediction id to what the model's endpoint served; returns realized
    performance per window (a frame) and says how many labels matched nothing."""
    import os

    from pipelines.selection import deployment_of
    from serving import live_store
    from steps.data.sources import DataSourceError, load_table
    from steps.deployment.rollout import active_deployer
    from steps.monitoring.live import live_dir_of
    from steps.monitoring.realized import realized_by_window, unmatched_ids

    table = load_table(path)
    missing = [c for c in (id_column, target) if c not in table.columns]
    if missing:
        raise DataSourceError(f"{path}: no column {', '.join(repr(c) for c in missing)}; columns are "
                              f"{', '.join(map(str, table.columns[:20]))}: pass --id-column and --target")
    table = table[[id_column, target]].dropna()
    if table.empty:
        raise DataSourceError(f"{path}: no row has both {id_column!r} and {target!r}")
    directory = live_dir_of(active_deployer().status(deployment_of(model_name)))
    labels = [{"id": str(i), "truth": v.item() if hasattr(v, "item") else v}
              for i, v in zip(table[id_column], table[target])]
    unmatched = unmatched_ids(directory, [r["id"] for r in labels])
    written = live_store.append_feedback(directory, f"file-{os.getpid()}", labels)
    say(f"{len(labels)} labels recorded in {written}; {len(labels) - len(unmatched)} match a served prediction")
    if unmatched:
        say(f"  {len(unmatched)} ids match no prediction in the log (unknown, or rotated out), e.g. "
            f"{', '.join(unmatched[:3])}")
    schema = champion_schema(model_name)
    realized = realized_by_window(directory, schema.task, schema.classes)
    if not realized.empty:
        say("realized performance per window:\n" + realized.to_string(index=False, float_format="%.4f"))
    return realized
