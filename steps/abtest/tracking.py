"""An A/B test's result in MLflow: one run in the experiment `<model>-abtest`, with the plan as parameters, the
figures as metrics and the HTML page as an artifact."""

from __future__ import annotations

from typing import Any, Dict, Optional


def experiment_name(model_name: str) -> str:
    return f"{model_name}-abtest"


def log_result(tracking_uri: Optional[str], model_name: str, result: Dict[str, Any], page: str,
               metrics: Dict[str, float]) -> str:
    """Logs one MLflow run for the test (`metrics`: steps.abtest.report.abtest_metrics); returns its run id."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    name = experiment_name(model_name)
    experiment = client.get_experiment_by_name(name)
    experiment_id = experiment.experiment_id if experiment else _create_experiment(client, name, tracking_uri)
    test = result["test"]
    run = client.create_run(experiment_id, run_name=f"v{test['champion']['version']}-vs-"
                                                     f"v{test['challenger']['version']}-{result['ending']}",
                            tags={"model_name": model_name, "verdict": result["verdict"]["verdict"],
                                  "ending": result["ending"], "champion_version": test["champion"]["version"],
                                  "challenger_version": test["challenger"]["version"]})
    run_id = run.info.run_id
    params = {f"plan_{k}": v for k, v in result["plan"].items()}
    params.update({f"split_{k}": v for k, v in test["split"].items()})
    for key, value in params.items():
        client.log_param(run_id, key, str(value)[:500])
    for key, value in metrics.items():
        client.log_metric(run_id, key, value)
    client.log_metric(run_id, "abtest_guardrail_breached", float(result["guardrails"]["breached"]))
    client.log_dict(run_id, result, "abtest_summary.json")
    client.log_text(run_id, page, "abtest.html")
    client.set_terminated(run_id)
    return run_id


def _create_experiment(client: Any, name: str, tracking_uri: Optional[str]) -> str:
    location = None
    if (tracking_uri or "").startswith("sqlite:"):  # artifacts under the run-state dir, as the other experiments
        from core.state import state_dir

        location = (state_dir() / "mlflow" / "artifacts" / name).as_uri()
    return client.create_experiment(name, artifact_location=location)
