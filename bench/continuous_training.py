"""Per-day figures of the last `run.py simulate` in the active ZenML state, as Markdown tables for the docs.

Run after a simulation, with the same state variables (ZENML_CONFIG_PATH, MLOPS_STATE_DIR):

    python bench/continuous_training.py [--config configs/monitoring.yaml] [--drift-from 2]

Besides what the timeline recorded (accuracy of the champion that scored each batch), it scores the first champion
(v1, never replaced) on the same regenerated batches: what accuracy would have been without continuous training.
The second table shows every deployment decision of the run: both models on the recent window and on the previous
holdout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=None)
    parser.add_argument("--model-name", default="churn-classifier", help="The simulated model (churn demo).")
    parser.add_argument("--drift-from", type=int, default=2)
    parser.add_argument("--png", default=None, help="Also draw the timeline to this file.")
    args = parser.parse_args()

    from pipelines.launch import prepare_environment

    prepare_environment()
    from sklearn.metrics import accuracy_score
    from zenml.client import Client

    from pipelines.continuous_training import load_monitoring_config
    from core.state import state_dir
    from core import names
    from steps.data.generator import drift_for_day, generate_batch
    from steps.deployment.registry import ModelRef, download_model, load_model
    from steps.deployment.rollout import tracking_uri

    config = load_monitoring_config(args.config, {})
    sim = config.simulation
    client = Client()
    timeline = client.get_artifact_version(names.SIMULATION_TIMELINE).load()
    if args.png:
        from steps.monitoring.timeline import plot_timeline

        plot_timeline(timeline.days, args.png, drift_from=timeline.drift_from)
    uri = tracking_uri()
    first = ModelRef(args.model_name, "1", "", "", {})
    v1 = load_model(download_model(first, state_dir() / "models", uri))
    features = list(v1.feature_names_in_)

    print("| day | drift level | drift share | serving | batch accuracy | v1 never replaced | action | new champion |")
    print("|---|---|---|---|---|---|---|---|")
    for d in timeline.days:
        drift = drift_for_day(d.day, args.drift_from, sim.drift_per_day)
        batch = generate_batch(sim.rows_per_day, seed=sim.seed + d.day, drift=drift, day=d.day)
        baseline = accuracy_score(batch["churned"], v1.predict(batch[features]))
        accuracy = "-" if d.accuracy is None else f"{d.accuracy:.3f}"
        print(f"| {d.day} | {drift:.2f} | {d.drift_share:.2f} | v{d.champion_version} | {accuracy} | "
              f"{baseline:.3f} | {d.action} | {('v' + d.deployed) if d.deployed else ''} |")

    print()
    print("| challenger | champion | recent window rows | roc_auc challenger / champion | previous holdout rows | "
          "roc_auc challenger / champion | decision |")
    print("|---|---|---|---|---|---|---|")
    runs = client.list_pipeline_runs(pipeline_name="deployment_pipeline", sort_by="asc:created", size=100)
    for run in runs.items:
        step = run.steps.get("decide_deployment")
        if step is None or names.DEPLOYMENT_DECISION not in step.outputs:
            continue
        decision = step.outputs[names.DEPLOYMENT_DECISION][0].load()
        cells = []
        for c in decision.comparisons[:2]:
            champion = f"{c.champion['roc_auc']:.4f}" if c.champion else "-"
            cells += [str(c.rows), f"{c.challenger.get('roc_auc', float('nan')):.4f} / {champion}"]
        cells += ["-", "-"] * (2 - len(decision.comparisons[:2]))
        champion = f"v{decision.champion_version}" if decision.champion_version else "-"
        print(f"| v{decision.challenger_version} | {champion} | {' | '.join(cells)} | {decision.decision} |")


if __name__ == "__main__":
    main()
