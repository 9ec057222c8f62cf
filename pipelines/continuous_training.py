"""Monitoring runs, retraining on fresh labelled data, and the day-by-day simulation for the CLI."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import pandas as pd

from pipelines.config import MonitoringConfig, load_config
from pipelines.launch import load_deployment_config, load_training_config, run_deployment, run_training, summarize_run

logger = logging.getLogger(__name__)


def load_monitoring_config(path: str | None, overrides: Dict[str, Any]) -> MonitoringConfig:
    return load_config(path or "monitoring", MonitoringConfig, overrides)


def run_monitoring(
    config: MonitoringConfig, model_name: str, batch_source: Dict[str, Any], say: Callable[[str], None] = print
) -> Dict[str, Any]:
    """Runs the monitoring pipeline for `model_name` on one batch (scored by the model's own endpoint); returns the
    summary plus the decision and reports."""
    from zenml.client import Client
    from zenml.enums import ExecutionMode

    from pipelines.monitoring import monitoring_pipeline
    from pipelines.selection import deployment_of
    from steps import names

    settings = config.model_dump(mode="json")
    monitoring = {k: settings[k] for k in ("drift", "max_drop", "policy")}
    monitoring["deployment_name"] = deployment_of(model_name)
    run = monitoring_pipeline.with_options(execution_mode=ExecutionMode.FAIL_FAST)(
        model_name=model_name, batch_source=batch_source, monitoring=monitoring
    )
    summary = summarize_run(run, say)
    steps = Client().get_pipeline_run(run.id).steps

    def output(step_name: str, artifact: str) -> Any:
        return steps[step_name].outputs[artifact][0].load()

    summary.update(
        decision=output("decide_action", names.MONITORING_DECISION),
        drift=output("detect_feature_drift", names.DRIFT_REPORT),
        decay=output("measure_decay", names.DECAY_REPORT),
        batch=output("load_batch", "batch"),
    )
    decision = summary["decision"]
    say(f"monitoring decision: {decision.action}")
    for reason in decision.reasons:
        say(f"  - {reason}")
    return summary


def champion_schema(model_name: str) -> Any:
    """The data schema (features, target, task) of the serving champion's training run."""
    from zenml import Model

    from steps import names

    return Model(name=model_name, version=names.PRODUCTION_STAGE).get_artifact(names.DATA_SCHEMA).load()


def champion_training_data(model_name: str) -> pd.DataFrame:
    """The dataset the serving champion was trained on, through its ZenML model version in stage `production`."""
    from zenml import Model

    from steps import names

    return Model(name=model_name, version=names.PRODUCTION_STAGE).get_artifact(names.DATASET).load()


def retrain(
    config: MonitoringConfig, model_name: str, recent_batches: List[pd.DataFrame], say: Callable[[str], None] = print
) -> Dict[str, Any]:
    """Trains on the champion's data plus recent labelled batches, then lets the deployment gate decide."""
    from stacks.state import state_dir
    from steps.data.fingerprint import fingerprint_file

    reference = champion_training_data(model_name)
    target = champion_schema(model_name).target
    labelled = [b for b in recent_batches[-config.retrain.recent_batches:] if target in b and b[target].notna().any()]
    combined = pd.concat([reference, *labelled], ignore_index=True)
    path = state_dir() / "retraining" / f"{model_name}-{len(combined)}-rows.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    combined.to_parquet(path, index=False)
    say(f"retraining on {len(reference)} reference rows + {len(combined) - len(reference)} recent labelled rows "
        f"({path})")
    training = load_training_config(None, {"data.source": str(path), "data.target": target,
                                           "model.name": model_name})
    run_training(training, fingerprint_file(str(path)), say)
    deployment = run_deployment(load_deployment_config(None, {}), model_name, say)
    return {"decision": deployment["decision"], "record": deployment["record"]}


def simulate(
    config: MonitoringConfig, model_name: str, days: int, drift_from: Optional[int], out_dir: Path,
    say: Callable[[str], None] = print,
) -> Dict[str, Any]:
    """Daily generated batches with drift from day `drift_from`: monitor each day, retrain when told to."""
    from zenml import save_artifact

    from steps import names
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
        if decision.action == "retrain":
            deployed = retrain(config, model_name, recent, say)
            record = deployed["record"]
            note = (f"day {day}: retrained; v{record.model_version} deployed" if record.deployed
                    else f"day {day}: retrained; challenger v{record.model_version} did not pass the gate")
            notes.append(note)
            say(note)
            champion = _champion_version(model_name)
        results.append(DayResult(
            day=day, drift_share=drift_report.drift_share, max_hellinger=drift_report.max_hellinger,
            accuracy=decay.current_metrics.get("accuracy") if decay else None, action=decision.action,
            champion_version=champion,
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
    missing = [f for f in champion_schema(model_name).features if f not in columns]
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
