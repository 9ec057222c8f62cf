"""Monitoring runs, retraining on fresh labelled data, and the day-by-day simulation for the CLI."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import pandas as pd

from core.config import MonitoringConfig, load_config
from pipelines.launch import load_deployment_config, load_training_config, run_deployment, run_training, summarize_run

logger = logging.getLogger(__name__)


def load_monitoring_config(path: str | None, overrides: Dict[str, Any]) -> MonitoringConfig:
    return load_config(path or "monitoring", MonitoringConfig, overrides)


def monitoring_arguments(config: MonitoringConfig, model_name: str, batch_source: Dict[str, Any]) -> Dict[str, Any]:
    """The monitoring pipeline's parameters for `model_name` on `batch_source`, from the validated config."""
    from pipelines.selection import deployment_of

    return dict(model_name=model_name, batch_source=batch_source, deployment_name=deployment_of(model_name),
                drift_settings=config.drift, max_drop=config.model_dump(mode="json")["max_drop"], policy=config.policy,
                alerts=config.alerts)


def run_monitoring(
    config: MonitoringConfig, model_name: str, batch_source: Dict[str, Any], say: Callable[[str], None] = print,
    settings: Optional[Dict[str, Any]] = None,
) -> Dict[str, Any]:
    """Runs the monitoring pipeline for `model_name` on one batch (scored by the model's own endpoint); returns the
    summary plus the decision and reports. `settings`: the run's stack component settings (e.g. the kubernetes
    orchestrator's pod settings that mount the recording claim)."""
    from zenml.client import Client
    from zenml.enums import ExecutionMode

    from pipelines.monitoring import monitoring_pipeline
    from core import names

    run = monitoring_pipeline.with_options(execution_mode=ExecutionMode.FAIL_FAST, **({"settings": settings} if settings else {}))(
        **monitoring_arguments(config, model_name, batch_source))
    summary = summarize_run(run, say)
    steps = Client().get_pipeline_run(run.id).steps

    def output(step_name: str, artifact: str) -> Any:
        return steps[step_name].outputs[artifact][0].load()

    summary.update(
        decision=output("decide_action", names.MONITORING_DECISION),
        drift=output("detect_feature_drift", names.DRIFT_REPORT),
        decay=output("measure_decay", names.DECAY_REPORT),
        estimated_decay=output("estimate_performance", names.ESTIMATED_DECAY_REPORT),
        batch=output("load_live_traffic" if "live" in batch_source else "load_batch", "batch"),
    )
    decision = summary["decision"]
    say(f"monitoring decision: {decision.action}")
    for reason in decision.reasons:
        say(f"  - {reason}")
    if summary["estimated_decay"] is not None:
        say(estimated_summary(summary["estimated_decay"], labelled=summary["decay"] is not None))
    return summary


def estimated_summary(report: Any, labelled: bool) -> str:
    """The estimated performance in a few lines: estimate, band, reference, realized when labels exist."""
    lines = [f"estimated performance ({report.method}, an estimate from {report.n_rows} rows; "
             + ("realized decay decides" if labelled else "no labels: it stands in for decay") + "):"]
    for name, band in sorted(report.estimates.items()):
        realized = report.realized.get(name)
        lines.append(f"  {name}: {band['estimate']:.4f} (band {band['lower']:.4f} – {band['upper']:.4f}), "
                     f"reference {report.reference_metrics.get(name, float('nan')):.4f}"
                     + ("" if realized is None else f", realized {realized:.4f}")
                     + (" -> estimated decay" if name in report.decayed_metrics else ""))
    return "\n".join(lines)


def champion_training_split(model_name: str) -> Tuple[pd.DataFrame, Any, Any]:
    """(training rows, split manifest, data schema) of the serving champion: its ZenML model version in stage
    `production`."""
    from zenml.client import Client
    from zenml.enums import ModelStages

    from core import names
    from steps.deployment.comparison import split_of
    from steps.training.retraining import RetrainingError

    version = Client().get_model_version(model_name, ModelStages.PRODUCTION)
    train = version.get_artifact(names.TRAIN_SET)
    if train is None:
        raise RetrainingError(f"the production version of '{model_name}' has no '{names.TRAIN_SET}' artifact; "
                           "train and deploy a model with `python run.py train` and `python run.py deploy` first")
    return train.load(), split_of(version), version.get_artifact(names.DATA_SCHEMA).load()


def retrain(
    config: MonitoringConfig, model_name: str, recent_batches: List[pd.DataFrame], say: Callable[[str], None] = print
) -> Dict[str, Any]:
    """Trains on the champion's training rows plus new labelled rows, holding out the newest new rows (the recent
    window) from training, then lets the deployment gate compare both models on rows neither trained on."""
    from core.state import state_dir
    from steps.data.fingerprint import fingerprint_file, fingerprint_frame
    from steps.training.retraining import assemble

    reference, split, schema = champion_training_split(model_name)
    data = assemble(reference, split, recent_batches[-config.retrain.recent_batches:], schema.target,
                    config.retrain.holdout_share)
    path = state_dir() / "retraining" / f"{model_name}-{fingerprint_frame(data.table)[7:19]}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    data.table.to_parquet(path, index=False)
    say(f"retraining on {data.summary()} ({path})")
    overrides: Dict[str, Any] = {"data.source": str(path), "data.target": schema.target,
                                 "model.name": model_name, "split.method": config.retrain.split}
    if config.retrain.split == "time":
        overrides["split.holdout_rows"] = data.holdout_rows
    run_training(load_training_config(None, overrides), fingerprint_file(str(path)), say)
    deployment = run_deployment(load_deployment_config(None, {}), model_name, say)
    return {"decision": deployment["decision"], "record": deployment["record"]}


def simulate(
    config: MonitoringConfig, model_name: str, days: int, drift_from: Optional[int], out_dir: Path,
    say: Callable[[str], None] = print,
) -> Dict[str, Any]:
    """Daily generated batches with drift from day `drift_from`: monitor each day, retrain when told to."""
    from zenml import save_artifact

    from core import names
    from steps.data.generator import drift_for_day
    from steps.data.validation import DataValidationError
    from steps.monitoring.timeline import DayResult, SimulationTimeline, plot_timeline

    _require_generator_features(model_name)
    sim = config.simulation
    recent: List[pd.DataFrame] = []
    results: List[DayResult] = []
    notes: List[str] = []
    for day in range(days):
        drift = drift_for_day(day, drift_from, sim.drift_per_day)
        say(f"--- day {day}: drift level {drift:.2f}")
        source = {"generator": {"n_rows": sim.rows_per_day, "seed": sim.seed + day, "drift": drift, "day": day}}
        try:
            outcome = run_monitoring(config, model_name, source, say)
        except DataValidationError as rejected:
            # A batch that fails the training checks is never scored; the simulation records it and goes on.
            say(f"day {day}: batch rejected: {rejected}")
            notes.append(f"day {day}: batch rejected ({rejected})")
            nan = float("nan")
            results.append(DayResult(day=day, drift_share=nan, max_hellinger=nan, accuracy=None, action="rejected",
                                     champion_version=_champion_version(model_name)))
            continue
        recent.append(outcome["batch"])
        decision, drift_report, decay = outcome["decision"], outcome["drift"], outcome["decay"]
        champion = _champion_version(model_name)
        deployed = None
        if decision.action == "retrain":
            outcome = retrain(config, model_name, recent, say)
            record = outcome["record"]
            deployed = record.model_version if record.deployed else None
            note = (f"day {day}: retrained; v{record.model_version} deployed" if record.deployed
                    else f"day {day}: retrained; challenger v{record.model_version} refused: "
                         + "; ".join(outcome["decision"].failures))
            notes.append(note)
            say(note)
        results.append(DayResult(
            day=day, drift_share=drift_report.drift_share, max_hellinger=drift_report.max_hellinger,
            accuracy=decay.current_metrics.get("accuracy") if decay else None, action=decision.action,
            champion_version=champion, deployed=deployed,
        ))
    timeline = SimulationTimeline(days=results, drift_from=drift_from, notes=notes)
    png = plot_timeline(results, out_dir / "simulation_timeline.png", drift_from=drift_from)
    save_artifact(timeline, name=names.SIMULATION_TIMELINE)
    say(f"timeline: {png}  (and artifact '{names.SIMULATION_TIMELINE}' in the dashboard)")
    return {"timeline": timeline, "png": png}


def _require_generator_features(model_name: str) -> None:
    """The simulation generates churn-demo batches: the model must have been trained on those columns."""
    from pipelines.selection import ModelChoiceError
    from steps.data.generator import generate_batch

    columns = set(generate_batch(5, seed=0).columns)
    missing = [f for f in champion_training_split(model_name)[2].features if f not in columns]
    if missing:
        raise ModelChoiceError(
            f"simulate generates churn-demo batches, but model {model_name!r} uses other columns "
            f"({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}): watch it with "
            f"`python run.py monitor --model-name {model_name} --data <batch.csv>`")


def _champion_version(model_name: str) -> Optional[str]:
    from steps.deployment.registry import by_alias
    from steps.training.tracking import CHAMPION_ALIAS
    from zenml.client import Client

    tracker = Client().active_stack.experiment_tracker
    ref = by_alias(model_name, CHAMPION_ALIAS, tracker.get_tracking_uri() if tracker else None)
    return ref.version if ref else None
