"""The training pipeline end to end on small data, in isolated ZenML and MLflow state (see tests/conftest.py)."""

from pathlib import Path

import mlflow
import pandas as pd
import pytest

from pipelines.launch import ensure_mlflow_experiment, load_training_config, prepare_environment, run_training
from core import names

pytestmark = pytest.mark.integration

SMALL = {"data.n_rows": 600, "training.search.space": {"max_depth": [2, 3]}, "training.search.cv_folds": 2}


@pytest.fixture(scope="module")
def local_stack():
    from stacks.registration import register_stack

    prepare_environment()
    register_stack("local")
    from zenml.client import Client

    return Client()


def _train(overrides=None, fingerprint=""):
    config = load_training_config(None, {**SMALL, **(overrides or {})})
    return config, run_training(config, fingerprint, say=lambda _: None)


def _artifact(client, run_id, name):
    run = client.get_pipeline_run(run_id)
    for step in run.steps.values():
        if name in step.outputs:
            return step.outputs[name][0]
    raise KeyError(name)


def _mlflow_client(client):
    return mlflow.MlflowClient(tracking_uri=client.active_stack.experiment_tracker.get_tracking_uri())


def test_run_is_tracked_registered_and_visualized(local_stack, tmp_path):
    config, summary = _train({"enable_cache": False})
    assert summary["status"].endswith("completed")
    registered = _artifact(local_stack, summary["run_id"], names.REGISTERED_MODEL).load()
    ml = _mlflow_client(local_stack)

    version = ml.get_model_version_by_alias(config.model.name, "challenger")
    assert str(version.version) == registered.version and version.run_id == registered.run_id
    run = ml.get_run(registered.run_id)
    assert run.data.params["estimator"] == "hist_gradient_boosting"
    assert run.data.params["param.max_depth"] in {"2", "3"}
    assert 0.6 < run.data.metrics["holdout_roc_auc"] <= 1.0
    # Every CV candidate is a child run of the training run, with its params and each CV score; the parent keeps
    # the chosen model.
    children = ml.search_runs([run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'")
    assert sorted(c.data.params["max_depth"] for c in children) == ["2", "3"]
    for child in children:
        assert {"cv_roc_auc_mean", "cv_roc_auc_std", "cv_accuracy_mean", "mean_fit_seconds", "rank"} <= set(
            child.data.metrics)
    (chosen,) = [c for c in children if c.data.tags["chosen"] == "true"]
    assert chosen.data.params["max_depth"] == run.data.params["param.max_depth"]
    assert chosen.data.metrics["cv_roc_auc_mean"] == pytest.approx(run.data.metrics["cv_roc_auc"])
    assert version.run_id == run.info.run_id != chosen.info.run_id  # the registered model is the parent's
    # The evaluation figures and tables sit in the run's artifacts, next to the model.
    from urllib.parse import urlparse
    from urllib.request import url2pathname

    logged = Path(url2pathname(urlparse(run.info.artifact_uri).path)) / "evaluation"
    assert {p.name for p in logged.iterdir()} == {
        "confusion_matrix.png", "roc_curve.png", "pr_curve.png", "calibration_curve.png",
        "permutation_importance.png", "permutation_importance.json", "slices.json", "behaviour_checks.json"}
    assert 0 <= run.data.metrics["holdout_ece"] <= 1 and "holdout_brier_score" in run.data.metrics
    tags = run.data.tags
    for key in ("git_commit", "git_dirty", "data_fingerprint", "zenml_run_id", "config_hash", "version.zenml",
                "version.scikit-learn"):
        assert tags.get(key), key
    assert tags["zenml_run_id"] == summary["run_id"] and tags["data_fingerprint"].startswith("sha256:")

    # The model is stored as skops with a signature and an input example: nothing on the serving path unpickles.
    from steps.deployment.registry import by_alias, download_model

    local_dir = download_model(by_alias(config.model.name, "challenger", ml.tracking_uri), tmp_path, ml.tracking_uri)
    mlmodel = (local_dir / "MLmodel").read_text()
    assert "serialization_format: skops" in mlmodel and "signature:" in mlmodel
    assert "pickled_model: model.skops" in mlmodel  # MLflow's key name; the file is skops
    assert not list(local_dir.glob("*.pkl"))

    # Artifacts: profile, passing validation, evaluation with an HTML visualization, all linked to the ZenML model.
    report = _artifact(local_stack, summary["run_id"], names.VALIDATION_REPORT).load()
    assert report.passed and report.n_rows == 600
    evaluation = _artifact(local_stack, summary["run_id"], names.EVALUATION_REPORT)
    assert evaluation.load().metrics["roc_auc"] == pytest.approx(run.data.metrics["holdout_roc_auc"])
    assert any(v.type == "html" for v in evaluation.visualizations)
    loaded = evaluation.load()
    assert {r["feature"] for r in loaded.importance} == set(run.data.params["features"].split(","))
    assert loaded.slices and all(s["rows"] >= loaded.min_slice_rows for s in loaded.slices)
    # numeric features sliced by quantile bins too (the demo's evaluation.numeric_slice_bins)
    assert set(loaded.slice_bins.values()) == {config.evaluation.numeric_slice_bins}
    assert "tenure_months" in loaded.slice_bins
    assert any(s["feature"] == "tenure_months" for s in loaded.slices)
    # the demo's behaviour checks: every one run, in the report, MLflow and the card
    declared = [c.name for c in config.evaluation.behaviour_checks]
    assert [r["name"] for r in loaded.behaviour] == declared and len(declared) == 3
    for result in loaded.behaviour:
        assert run.data.metrics[f"behaviour_{result['name']}_passed"] == float(result["passed"])
    profile_artifact = _artifact(local_stack, summary["run_id"], names.DATA_PROFILE)
    assert "monthly_charges" in profile_artifact.load().get_columns()
    # the project's whylogs materializer (binary profile + HTML summary), not ZenML's cloudpickle fallback
    assert profile_artifact.materializer.import_path == "materializers.whylogs_profile.WhylogsProfileMaterializer"
    assert any(v.type == "html" for v in profile_artifact.visualizations)
    model_version = local_stack.get_pipeline_run(summary["run_id"]).model_version
    assert model_version.model.name == config.model.name
    linked = set(model_version.data_artifact_ids) | set(model_version.model_artifact_ids)
    assert {names.EVALUATION_REPORT, names.DATA_PROFILE, names.MODEL, names.SPLIT_MANIFEST, names.MODEL_CARD} <= linked

    # The model card: an artifact with an HTML view in the dashboard, and the MLflow model version's description.
    card = _artifact(local_stack, summary["run_id"], names.MODEL_CARD)
    assert any(v.type == "html" for v in card.visualizations)
    card = card.load()
    assert card.version == registered.version and card.intended_use["ethics"] == config.model.ethics
    assert card.worst_slices and card.importance and card.data["fingerprint"] == tags["data_fingerprint"]
    assert [r["name"] for r in card.behaviour] == declared and "## Behaviour checks" in card.to_markdown()
    assert ml.get_model_version(config.model.name, registered.version).description == card.to_markdown()

    # What the version trained on is recorded with it, and no holdout row is a training row.
    import numpy as np

    from steps.data.rows import row_fingerprints

    manifest = model_version.get_artifact(names.SPLIT_MANIFEST).load()
    train, holdout = (model_version.get_artifact(n).load() for n in (names.TRAIN_SET, names.HOLDOUT_SET))
    assert manifest.method == "random" and (manifest.n_train, manifest.n_holdout) == (480, 120)
    assert set(row_fingerprints(train)) == set(manifest.train_keys())
    assert not np.isin(row_fingerprints(holdout), manifest.train_keys()).any()

    # Calibration (on in the demo config): fitted on the training rows the manifest sets aside, chosen by holdout
    # log loss, both losses and the choice in MLflow, the evaluation report and the card.
    assert manifest.n_calibration == pytest.approx(0.2 * 480, abs=2)
    assert set(manifest.calibration_keys()) < set(manifest.train_keys())
    assert int(run.data.params["n_train_rows"]) == 480 - manifest.n_calibration
    calibration = _artifact(local_stack, summary["run_id"], names.CALIBRATION_REPORT).load()
    assert set(calibration.holdout_log_loss) == {"none", "sigmoid", "isotonic"}
    assert calibration.holdout_log_loss[calibration.chosen] == min(calibration.holdout_log_loss.values())
    assert run.data.params["calibration"] == calibration.chosen
    assert run.data.metrics["calibration_log_loss_none"] == pytest.approx(calibration.holdout_log_loss["none"])
    assert loaded.calibration_choice["chosen"] == calibration.chosen
    assert loaded.metrics["log_loss"] == pytest.approx(calibration.holdout_log_loss[calibration.chosen])
    assert "calibrated by" in card.to_markdown() and "holdout log loss, sigmoid" in card.to_markdown()


def test_optuna_trials_are_child_runs_like_grid_candidates(local_stack):
    config, summary = _train({"enable_cache": False, "training.search.method": "optuna", "training.search.n_iter": 3,
                              "training.search.space": {"max_depth": [2, 3, 4]}})
    search = _artifact(local_stack, summary["run_id"], names.SEARCH_REPORT).load()
    registered = _artifact(local_stack, summary["run_id"], names.REGISTERED_MODEL).load()
    ml = _mlflow_client(local_stack)
    run = ml.get_run(registered.run_id)
    children = ml.search_runs([run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'")
    assert search.method == "optuna" and 1 <= len(search.candidates) <= 3
    assert sorted(c.data.params["max_depth"] for c in children) == sorted(
        str(c["params"]["max_depth"]) for c in search.candidates)
    (chosen,) = [c for c in children if c.data.tags["chosen"] == "true"]
    assert chosen.data.params["max_depth"] == run.data.params["param.max_depth"]


def test_bad_batch_stops_before_training(local_stack, tmp_path):
    from steps.data.validation import DataValidationError

    ml = _mlflow_client(local_stack)
    before = len(ml.search_model_versions("name='churn-classifier'"))
    frame = pd.DataFrame({"x": [float(i % 7) for i in range(30)], "y": [0, 1] * 15})
    path = tmp_path / "tiny.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataValidationError, match="row count: expected >= 50 rows, found 30"):
        _train({"data.source": str(path), "data.target": "y", "enable_cache": False}, fingerprint="sha256:tiny")
    run = local_stack.get_pipeline("training_pipeline").last_run
    assert str(run.status).endswith("failed")
    assert "train_model" not in run.steps or not str(run.steps["train_model"].status).endswith("completed")
    failed_report = run.steps["validate_data"].outputs[names.VALIDATION_REPORT][0].load()
    assert not failed_report.passed
    assert any(f["check"].startswith("row count") or "row" in f["check"] for f in failed_report.failures)
    assert len(ml.search_model_versions("name='churn-classifier'")) == before


def test_uncached_runs_are_reproducible(local_stack):
    _, first = _train({"enable_cache": False, "data.seed": 5})
    _, second = _train({"enable_cache": False, "data.seed": 5})
    a = _artifact(local_stack, first["run_id"], names.EVALUATION_REPORT).load()
    b = _artifact(local_stack, second["run_id"], names.EVALUATION_REPORT).load()
    assert a.metrics == b.metrics and a == b  # importance and slices included
    assert a.importance and a.slices
    search = [_artifact(local_stack, r["run_id"], names.SEARCH_REPORT).load() for r in (first, second)]
    assert search[0] == search[1]
    calibration = [_artifact(local_stack, r["run_id"], names.CALIBRATION_REPORT).load() for r in (first, second)]
    assert calibration[0] == calibration[1] and calibration[0].tried
    pa = _artifact(local_stack, first["run_id"], names.HOLDOUT_PREDICTIONS).load()
    pb = _artifact(local_stack, second["run_id"], names.HOLDOUT_PREDICTIONS).load()
    pd.testing.assert_frame_equal(pa, pb)
    assert first["cached_steps"] == [] and second["cached_steps"] == []


def test_cached_rerun_skips_every_step(local_stack):
    _train({"data.seed": 9})
    _, rerun = _train({"data.seed": 9})
    assert len(rerun["cached_steps"]) == 10


def test_time_split_holds_out_the_most_recent_rows(local_stack, tmp_path):
    from steps.data.generator import generate_batch

    frame = pd.concat([generate_batch(200, seed=3, day=d) for d in range(3)], ignore_index=True)
    path = tmp_path / "days.csv"
    frame.sample(frac=1.0, random_state=1).to_csv(path, index=False)  # event_time as text, rows shuffled
    _, summary = _train({"data.source": str(path), "data.target": "churned", "split.method": "time",
                         "enable_cache": False}, fingerprint="sha256:days")
    manifest = _artifact(local_stack, summary["run_id"], names.SPLIT_MANIFEST).load()
    train = _artifact(local_stack, summary["run_id"], names.TRAIN_SET).load()
    holdout = _artifact(local_stack, summary["run_id"], names.HOLDOUT_SET).load()
    assert manifest.method == "time" and manifest.time_column == "event_time" and len(holdout) == 120
    assert pd.to_datetime(train["event_time"]).max() <= pd.to_datetime(holdout["event_time"]).min()
    assert manifest.cutoff.startswith("2026-01-03")


def test_mlflow_artifacts_stay_in_the_state_dir(local_stack, session_dir):
    ensure_mlflow_experiment("probe-experiment")
    ml = _mlflow_client(local_stack)
    location = ml.get_experiment_by_name("probe-experiment").artifact_location
    assert location.startswith((session_dir / "state").as_uri())
