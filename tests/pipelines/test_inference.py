"""Batch inference without a server, on a table that is not the churn demo: real ZenML, MLflow, whylogs and skops.

Two versions of a wine model are trained from a CSV with its own column names; the inference pipeline scores files
with a chosen version and must agree with the registered model loaded in-process.
"""

import json
import subprocess
import sys
from pathlib import Path
from uuid import UUID

import numpy as np
import pandas as pd
import pytest

from pipelines.launch import load_training_config, prepare_environment, run_training, user_data_overrides
from pipelines.predict import run_batch_inference
from core import names
from steps.deployment.registry import RegistryError, by_version, download_model, load_model, promote

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent.parent
MODEL = "wine-cellar-test"
CULTIVARS = {0: "barolo", 1: "grignolino", 2: "barbera"}
QUIET = {"say": lambda _: None}


def _wine_table() -> pd.DataFrame:
    """sklearn's wine data with the project's conventions nowhere: own column names, string classes, a category."""
    from sklearn.datasets import load_wine

    wine = load_wine(as_frame=True).frame
    table = pd.DataFrame({
        "alcohol_pct": wine["alcohol"],
        "malic": wine["malic_acid"],
        "flavanoid_level": wine["flavanoids"],
        "colour": wine["color_intensity"],
        "proline_mg": wine["proline"].astype(int),
        "cellar": np.random.default_rng(3).choice(["north", "south", "east"], len(wine)),
        "cultivar": wine["target"].map(CULTIVARS),
    })
    return table


@pytest.fixture(scope="module")
def wine(tmp_path_factory):
    """Versions 1 (gradient boosting) and 2 (logistic regression) of the wine model, and the table they learnt."""
    from zenml.client import Client

    from stacks.registration import register_stack

    prepare_environment()
    register_stack("local")
    folder = tmp_path_factory.mktemp("wine")
    table = _wine_table()
    source = folder / "wine.csv"
    table.to_csv(source, index=False)
    base = {**user_data_overrides(str(source), "cultivar"),  # as `train --data` does: no churn-demo checks
            "data.source": str(source), "data.target": "cultivar", "model.name": MODEL, "enable_cache": False,
            "training.search.space": {}, "training.search.cv_folds": 2}
    run_training(load_training_config(None, {**base, "training.params": {"max_depth": 3}}), "", **QUIET)
    run_training(load_training_config(None, {**base, "training.estimator": "logistic_regression",
                                              "training.params": {}}), "", **QUIET)
    client = Client()
    return {"client": client, "uri": client.active_stack.experiment_tracker.get_tracking_uri(), "table": table,
            "folder": folder}


def _batch(wine, name: str, frame: pd.DataFrame) -> Path:
    path = wine["folder"] / name
    frame.to_csv(path, index=False)
    return path


def _offline_predictions(wine, version: str, frame: pd.DataFrame, tmp_path) -> pd.DataFrame:
    """What the registered model answers when loaded in-process (skops) and asked directly."""
    model = load_model(download_model(by_version(MODEL, version, wine["uri"]), tmp_path, wine["uri"]))
    features = list(model.feature_names_in_)
    proba = model.predict_proba(frame[features])
    expected = pd.DataFrame({"prediction": [str(c) for c in model.classes_[proba.argmax(axis=1)]]})
    for i, cls in enumerate(model.classes_):
        expected[f"proba_{cls}"] = proba[:, i]
    return expected


def test_scoring_by_version_matches_the_registered_model_and_is_linked_to_it(wine, tmp_path):
    batch = wine["table"].drop(columns=["cultivar"]).sample(60, random_state=1).reset_index(drop=True)
    result = run_batch_inference(str(_batch(wine, "unlabelled.csv", batch)), MODEL, version="1", **QUIET)

    assert result["status"].endswith("completed") and result["model_version"] == "1"
    predictions = result["predictions"]
    assert list(predictions.columns) == ["prediction", "proba_barbera", "proba_barolo", "proba_grignolino"]
    pd.testing.assert_frame_equal(predictions, _offline_predictions(wine, "1", batch, tmp_path), atol=1e-12)

    # The predictions belong to the ZenML model version of training run 1, next to its training artifacts.
    client = wine["client"]
    model_version = client.get_model_version(MODEL, result["zenml_model_version"])
    assert model_version.run_metadata["mlflow_model"]["version"] == "1"
    assert str(model_version.get_artifact(names.PREDICTIONS).id) == result["predictions_artifact_id"]
    schema = model_version.get_artifact(names.DATA_SCHEMA)
    assert schema.producer_pipeline_run_id != UUID(result["run_id"])  # still the training run's contract

    # Lineage in the run: the loaded batch feeds the scoring step; the contract is the training run's schema.
    run = client.get_pipeline_run(result["run_id"])
    batch_artifact = run.steps["load_inference_batch"].outputs[names.INFERENCE_BATCH][0]
    assert run.steps["predict_offline"].inputs["batch"][0].id == batch_artifact.id
    assert run.steps["validate_inference_batch"].inputs["schema"][0].id == schema.id
    assert run.model_version.id == model_version.id

    # ... and the plain ZenML CLI lists the predictions among the model version's artifacts.
    listing = subprocess.run([str(Path(sys.executable).parent / "zenml"), "model", "data_artifacts", MODEL,
                              "--model_version", result["zenml_model_version"],
                              "--artifact_version_id", result["predictions_artifact_id"], "--output", "json"],
                             capture_output=True, text=True, timeout=300)
    assert listing.returncode == 0, listing.stderr
    assert [item["artifact_version"] for item in json.loads(listing.stdout)["items"]] == [names.PREDICTIONS]


def test_scoring_by_alias_and_by_default(wine, tmp_path):
    batch = wine["table"].drop(columns=["cultivar"]).head(40)
    path = str(_batch(wine, "head.csv", batch))
    by_alias = run_batch_inference(path, MODEL, alias="challenger", **QUIET)
    assert by_alias["model_version"] == "2"  # the latest registration is the challenger
    pd.testing.assert_frame_equal(by_alias["predictions"], _offline_predictions(wine, "2", batch, tmp_path),
                                  atol=1e-12)
    assert run_batch_inference(path, MODEL, **QUIET)["model_version"] == "2"  # no champion yet: the latest

    promote(MODEL, "1", wine["uri"])
    assert run_batch_inference(path, MODEL, **QUIET)["model_version"] == "1"  # the champion once there is one

    with pytest.raises(RegistryError, match="no version with alias 'gold'.*champion"):
        run_batch_inference(path, MODEL, alias="gold", **QUIET)
    with pytest.raises(RegistryError, match="no version '9'; versions: 1, 2"):
        run_batch_inference(path, MODEL, version="9", **QUIET)


def test_a_batch_failing_the_training_contract_is_never_scored(wine):
    from steps.data.validation import DataValidationError

    batch = wine["table"].drop(columns=["cultivar", "malic"]).head(80)
    batch["colour"] = batch["colour"].map(lambda v: f"{v:.1f} units")
    with pytest.raises(DataValidationError) as failure:
        run_batch_inference(str(_batch(wine, "bad.csv", batch)), MODEL, version="1", **QUIET)
    message = str(failure.value)
    assert "column 'malic' present: expected column present, found column missing" in message
    assert "column 'colour' type" in message and "string values" in message
    run = wine["client"].get_pipeline("inference_pipeline").last_run
    assert "predict_offline" not in run.steps or not str(run.steps["predict_offline"].status).endswith("completed")
    report = run.steps["validate_inference_batch"].outputs[names.INFERENCE_VALIDATION_REPORT][0].load()
    assert not report.passed and {f["column"] for f in report.failures} == {"malic", "colour"}


def _cli(*args):
    result = subprocess.run([sys.executable, str(ROOT / "run.py"), *args], capture_output=True, text=True,
                            timeout=600)
    return result.returncode, result.stdout + result.stderr


def test_cli_predict_offline_writes_the_predictions(wine, tmp_path):
    batch = wine["table"].drop(columns=["cultivar"]).tail(30).reset_index(drop=True)
    out = tmp_path / "scored.csv"
    code, output = _cli("predict", "--data", str(_batch(wine, "tail.csv", batch)), "--model-name", MODEL,
                        "--version", "2", "--offline", "--out", str(out))
    assert code == 0, output
    assert f"30 predictions from model {MODEL} v2 via offline batch inference" in output
    assert f"zenml model data_artifacts {MODEL} -v" in output
    scored = pd.read_csv(out)
    assert list(scored.columns[:len(batch.columns)]) == list(batch.columns)
    expected = _offline_predictions(wine, "2", batch, tmp_path)
    assert scored["prediction"].tolist() == expected["prediction"].tolist()
    np.testing.assert_allclose(scored[expected.columns[1:]].to_numpy(), expected[expected.columns[1:]].to_numpy(),
                               atol=1e-9)


def test_cli_predict_without_an_endpoint_validates_offline_and_names_the_problem(wine):
    batch = wine["table"].drop(columns=["cultivar", "flavanoid_level"]).head(60)
    code, output = _cli("predict", "--data", str(_batch(wine, "no_flavanoids.csv", batch)), "--model-name", MODEL)
    assert code == 1
    assert "no active endpoint" in output and "scoring offline" in output
    assert "error: data validation failed" in output and "column 'flavanoid_level' present" in output
    assert "Traceback" not in output
