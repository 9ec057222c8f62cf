"""Train -> gate -> deploy -> monitor -> retrain -> rollback, with real MLflow, whylogs and Seldon processes.

One module so the expensive parts (the serving environment, the first champion) are built once.
"""

import numpy as np
import pytest

from pipelines.continuous_training import load_monitoring_config, retrain, run_monitoring
from pipelines.launch import (
    load_deployment_config,
    load_training_config,
    prepare_environment,
    rollback_champion,
    run_deployment,
    run_training,
)
from steps.deployment.endpoint_client import predict
from steps.deployment.registry import RegistryError, by_alias, download_model, load_model

pytestmark = pytest.mark.integration

FAST = {"data.n_rows": 1500, "training.search.space": {"max_depth": [3]}, "training.search.cv_folds": 2,
        "enable_cache": False}
QUIET = {"say": lambda _: None}


@pytest.fixture(scope="module")
def stack():
    from zenml.client import Client

    from stacks.registration import register_stack

    prepare_environment()
    register_stack("local")
    yield Client()
    from steps.deployment.rollout import active_deployer

    deployer = active_deployer()
    for info in deployer.list_deployments():
        deployer.delete(info.name)


def _uri(client):
    return client.active_stack.experiment_tracker.get_tracking_uri()


def _train(**overrides):
    return run_training(load_training_config(None, {**FAST, **overrides}), "", **QUIET)


MODEL = "churn-classifier"


def _deploy(**choice):
    return run_deployment(load_deployment_config(None, {}), MODEL, **QUIET, **choice)


def _serving(client):
    from steps.deployment.rollout import active_deployer

    return active_deployer().status("churn-classifier")


@pytest.fixture(scope="module")
def champion(stack):
    _train()
    result = _deploy()
    assert result["decision"].deploy, result["decision"].reasons
    return result


def test_first_deployment_serves_the_challenger_with_parity(stack, champion, tmp_path):
    record = champion["record"]
    assert record.deployed and record.parity["rows"] > 0 and record.parity["max_abs_diff"] <= 1e-6
    info = _serving(stack)
    assert info.state == "active" and info.model_version == record.model_version
    assert by_alias("churn-classifier", "champion", _uri(stack)).version == record.model_version
    production = stack.get_model_version("churn-classifier", "production")
    assert production.run_metadata.get("mlflow_model", {}).get("version") == record.model_version

    # The endpoint answers what the registered model answers offline.
    from steps.data.generator import generate_batch

    batch = generate_batch(50, seed=123)
    ref = by_alias("churn-classifier", "champion", _uri(stack))
    model = load_model(download_model(ref, tmp_path, _uri(stack)))
    features = list(model.feature_names_in_)
    names, served = predict(info.url, batch[features])
    np.testing.assert_allclose(served, model.predict_proba(batch[features]), atol=1e-9)
    assert names == [str(c) for c in model.classes_]


def test_weak_challenger_is_refused_and_champion_keeps_serving(stack, champion):
    serving_before = _serving(stack).model_version
    _train(**{"training.params": {"max_iter": 1, "max_depth": 1, "learning_rate": 0.01},
              "training.search.space": {}})
    result = _deploy()
    decision = result["decision"]
    assert not decision.deploy
    assert any("does not beat champion" in r or "below the required" in r for r in decision.reasons)
    assert not result["record"].deployed
    info = _serving(stack)
    assert info.state == "active" and info.model_version == serving_before
    assert by_alias("churn-classifier", "champion", _uri(stack)).version == serving_before
    # With the slice gate on, the refusal also names the categorical slices the challenger loses.
    sliced = run_deployment(load_deployment_config(None, {"gate.max_slice_loss": 0.0}), MODEL, **QUIET)["decision"]
    assert not sliced.deploy and any(f.startswith("slice contract_type=") for f in sliced.failures), sliced.failures


def test_monitoring_flags_drift_only_when_there_is_drift(stack, champion):
    config = load_monitoring_config(None, {})
    calm = run_monitoring(config, MODEL, {"generator": {"n_rows": 1500, "seed": 11, "drift": 0.0}}, **QUIET)
    assert not calm["drift"].detected and calm["decision"].action == "none", calm["decision"].reasons
    stormy = run_monitoring(config, MODEL, {"generator": {"n_rows": 1500, "seed": 12, "drift": 1.0}}, **QUIET)
    assert stormy["drift"].detected and stormy["decision"].action == "retrain"
    assert stormy["decay"] is not None and stormy["decay"].decayed
    # labelled batches: realized decay decides; the estimate (CBPE) is reported next to the realized figures
    estimated = calm["estimated_decay"]
    assert estimated.method == "CBPE" and set(estimated.realized) == {"accuracy", "roc_auc"}
    band = estimated.estimates["accuracy"]
    assert band["lower"] <= estimated.realized["accuracy"] <= band["upper"], (band, estimated.realized)


def test_monitoring_without_labels_decides_on_the_estimate(stack, champion, tmp_path):
    from steps.data.generator import TARGET, generate_batch

    config = load_monitoring_config(None, {})
    runs, said = {}, []
    for name, drift in (("calm", 0.0), ("stormy", 1.0)):
        path = tmp_path / f"{name}.csv"
        generate_batch(1500, seed=21, drift=drift).drop(columns=[TARGET]).to_csv(path, index=False)
        runs[name] = run_monitoring(config, MODEL, {"path": str(path)}, say=said.append)
    for name, run in runs.items():
        assert run["decay"] is None and run["decision"].decayed is None
        assert run["decision"].estimated_decay is run["estimated_decay"].decayed
        assert "Estimated performance (used by the decision)" in run["decision"].to_html()
    calm, stormy = (runs[n]["estimated_decay"].estimates["accuracy"] for n in ("calm", "stormy"))
    assert stormy["estimate"] < calm["estimate"], (calm, stormy)
    assert not runs["calm"]["decision"].estimated_decay
    assert runs["stormy"]["decision"].estimated_decay  # the shift moves rows to where the model is less sure
    assert any(r.startswith("alert: estimated decay (no labels yet") for r in runs["stormy"]["decision"].reasons)
    printed = said[-1]  # the CLI's last lines: the estimate, its band, the reference and the verdict
    assert printed.startswith("estimated performance (CBPE, an estimate from 1500 rows; no labels: it stands in")
    assert "accuracy:" in printed and "(band " in printed and "-> estimated decay" in printed
    assert TARGET not in runs["calm"]["batch"].columns


def test_bad_batch_is_rejected_before_scoring(stack, champion, tmp_path):
    from steps.data.generator import generate_batch
    from steps.data.validation import DataValidationError

    batch = generate_batch(300, seed=5).drop(columns=["tenure_months"])
    batch["monthly_charges"] = batch["monthly_charges"].astype(str) + "USD"
    path = tmp_path / "bad.csv"
    batch.to_csv(path, index=False)
    with pytest.raises(DataValidationError) as failure:
        run_monitoring(load_monitoring_config(None, {}), MODEL, {"path": str(path)}, **QUIET)
    assert "tenure_months" in str(failure.value) and "monthly_charges" in str(failure.value)
    run = stack.get_pipeline("monitoring_pipeline").last_run
    assert "score_batch" not in run.steps or not str(run.steps["score_batch"].status).endswith("completed")


def _split_manifest(client, ref):
    from core import names

    version = client.get_pipeline_run(ref.zenml_run_id).model_version
    return version.get_artifact(names.SPLIT_MANIFEST).load(), version


def test_retrain_on_drifted_data_wins_and_takes_over(stack, champion):
    from steps.data.generator import generate_batch
    from steps.data.rows import row_fingerprints

    before = by_alias("churn-classifier", "champion", _uri(stack))
    config = load_monitoring_config(None, {})
    recent = [generate_batch(1000, seed=20 + i, drift=1.0, day=1 + i) for i in range(3)]
    outcome = retrain(config, MODEL, recent, **QUIET)
    decision = outcome["decision"]
    assert decision.deploy, decision.reasons
    assert [c.name for c in decision.comparisons] == ["recent window", "previous holdout"]
    assert all(c.rows >= 30 and c.champion for c in decision.comparisons)
    after = by_alias("churn-classifier", "champion", _uri(stack))
    assert after.version != before.version and _serving(stack).model_version == after.version
    assert by_alias("churn-classifier", "previous-champion", _uri(stack)).version == before.version
    # What each version trained on is linked to it; the recent window (the new champion's holdout, all from the
    # newest day) holds no row the old champion trained on, and the old holdout none the new one trained on.
    new_split, new_version = _split_manifest(stack, after)
    old_split, old_version = _split_manifest(stack, before)
    assert new_split.method == "time" and new_split.time_column == "event_time"
    window = new_version.get_artifact("holdout_set").load()
    assert set(window["event_time"].dt.day) == {4}
    assert not np.isin(row_fingerprints(window, old_split.columns), old_split.train_keys()).any()
    assert not np.isin(old_split.holdout_keys(), new_split.train_keys()).any()


def test_retrain_on_unlearnable_data_is_refused_and_says_why(stack, champion):
    from steps.data.generator import TARGET, generate_batch

    before = by_alias("churn-classifier", "champion", _uri(stack)).version
    rng = np.random.default_rng(1)
    noise = [generate_batch(800, seed=40 + i, drift=1.0, day=5 + i) for i in range(3)]
    noise = [b.assign(**{TARGET: rng.integers(0, 2, len(b))}) for b in noise]
    outcome = retrain(load_monitoring_config(None, {}), MODEL, noise, **QUIET)
    decision = outcome["decision"]
    assert not decision.deploy and not outcome["record"].deployed
    assert any("on the recent window" in f for f in decision.failures), decision.failures
    assert by_alias("churn-classifier", "champion", _uri(stack)).version == before
    assert _serving(stack).model_version == before


def test_rollback_restores_the_previous_champion(stack, champion):
    if by_alias(MODEL, "previous-champion", _uri(stack)) is None:  # run alone: make a second champion first
        _train(**{"training.search.space": {"max_depth": [2]}})
        assert _deploy(force=True)["record"].deployed
    previous = by_alias("churn-classifier", "previous-champion", _uri(stack)).version
    current = by_alias("churn-classifier", "champion", _uri(stack)).version
    record = rollback_champion(load_deployment_config(None, {}), MODEL, **QUIET)
    assert record.model_version == previous and _serving(stack).model_version == previous
    assert by_alias("churn-classifier", "champion", _uri(stack)).version == previous
    assert by_alias("churn-classifier", "previous-champion", _uri(stack)).version == current
    # the version rolled away from is retired: tagged, and never the challenger any more, so the next plain deploy
    # cannot bring it back (a later challenger, e.g. one the gate refused earlier in this module, keeps its alias)
    import mlflow

    retired = mlflow.MlflowClient(tracking_uri=_uri(stack)).get_model_version(MODEL, current)
    assert retired.tags["deployment_status"] == "rolled-back"
    challenger = by_alias(MODEL, "challenger", _uri(stack))
    assert challenger is None or challenger.version != current
    if challenger is None:
        with pytest.raises(RegistryError, match="no 'challenger'"):
            _deploy()
    assert _serving(stack).model_version == previous


def test_simulation_detects_drift_retrains_and_draws_the_timeline(stack, champion, tmp_path):
    from pipelines.continuous_training import simulate
    from core import names

    config = load_monitoring_config(None, {"simulation.rows_per_day": 1000, "simulation.drift_per_day": 0.5})
    outcome = simulate(config, MODEL, days=3, drift_from=1, out_dir=tmp_path, **QUIET)
    days = outcome["timeline"].days
    assert [d.day for d in days] == [0, 1, 2]
    assert days[0].action == "none" and days[0].drift_share == 0.0
    assert any(d.action == "retrain" for d in days[1:])
    assert max(d.drift_share for d in days[1:]) > 0.3
    assert outcome["png"].is_file() and outcome["png"].stat().st_size > 10_000
    deployed = [d for d in days if d.deployed]
    assert deployed and all(d.action == "retrain" for d in deployed), days
    saved = stack.get_artifact_version(names.SIMULATION_TIMELINE)
    assert any(v.type == "html" for v in saved.visualizations)
