"""Two models from users' own tables, side by side: each trained, deployed behind its own URL, monitored, redeployed
at a chosen version, rolled back and restarted, without touching the other. Real ZenML, MLflow, whylogs and Seldon.

Every test passes when run alone: the module fixture trains and deploys both models; a test that needs more state
(a second version, a previous champion) makes it itself.
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pandas as pd
import pytest

from pipelines.continuous_training import load_monitoring_config, run_monitoring
from pipelines.launch import (
    load_deployment_config,
    load_training_config,
    prepare_environment,
    rollback_champion,
    run_deployment,
    run_training,
    user_data_overrides,
)
from steps.deployment.endpoint_client import predict

pytestmark = pytest.mark.integration

LOANS, HOUSES = "loan-default", "house-prices"
QUIET = {"say": lambda _: None}


def loans_table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10.5, 0.4, n)
    amount = rng.uniform(1_000, 40_000, n)
    score = rng.normal(650, 60, n)
    purpose = rng.choice(["car", "home", "education", "business"], n)
    risk = 2.5 * amount / income - (score - 650) / 40 + (purpose == "business") * 0.8
    return pd.DataFrame({"applicant_income": income.round(0), "loan_amount": amount.round(0),
                         "credit_score": score.round(0), "purpose": purpose,
                         "defaulted": (risk + rng.normal(0, 0.7, n) > 0.4).astype(int)})


def houses_table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    area = rng.uniform(40, 250, n)
    rooms = rng.integers(1, 7, n)
    city = rng.choice(["lyon", "nantes", "lille"], n)
    price = 2_500 * area + 8_000 * rooms + np.where(city == "lyon", 60_000, 0) + rng.normal(0, 20_000, n)
    return pd.DataFrame({"floor_area": area.round(1), "rooms": rooms, "city": city, "sale_price": price.round(0)})


FAST = {"training.search.space": {"max_depth": [3]}, "training.search.cv_folds": 2, "enable_cache": False}


def _train(path, target: str, model: str, **overrides) -> None:
    config = load_training_config(None, {**FAST, **user_data_overrides(str(path), target),  # as `train --data`
                                         "data.source": str(path), "data.target": target, "model.name": model,
                                         **overrides})
    run_training(config, "", **QUIET)


def _deploy(model: str, **choice):
    return run_deployment(load_deployment_config(None, {}), model, **QUIET, **choice)


def _deployer():
    from steps.deployment.rollout import active_deployer

    return active_deployer()


def _serving(model: str):
    return _deployer().status(model)


def _champion(model: str) -> str:
    from steps.deployment.registry import by_alias
    from steps.deployment.rollout import tracking_uri

    return by_alias(model, "champion", tracking_uri()).version


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    folder = tmp_path_factory.mktemp("user-data")
    loans, houses = folder / "loans.csv", folder / "houses.csv"
    loans_table(1200, seed=1).to_csv(loans, index=False)
    houses_table(900, seed=2).to_csv(houses, index=False)
    return {"loans": loans, "houses": houses, "folder": folder}


@pytest.fixture(scope="module")
def two_models(tables):
    from stacks.registration import register_stack

    prepare_environment()
    register_stack("local")
    _train(tables["loans"], "defaulted", LOANS)
    _train(tables["houses"], "sale_price", HOUSES)
    for model in (LOANS, HOUSES):
        assert _deploy(model)["record"].deployed
    yield tables
    for info in _deployer().list_deployments():
        _deployer().delete(info.name)


def _second_loan_champion(tables) -> None:
    """Makes sure the loan model has a previous champion (a second version, deployed)."""
    from steps.deployment.registry import by_alias
    from steps.deployment.rollout import tracking_uri

    if by_alias(LOANS, "previous-champion", tracking_uri()) is None:
        _train(tables["loans"], "defaulted", LOANS, **{"training.search.space": {"max_depth": [2]}})
        assert _deploy(LOANS, force=True)["record"].deployed


def test_two_models_serve_side_by_side_on_their_own_urls(two_models):
    loans, houses = _serving(LOANS), _serving(HOUSES)
    assert loans.state == houses.state == "active" and loans.url != houses.url
    assert (loans.model_name, houses.model_name) == (LOANS, HOUSES)
    names, probabilities = predict(loans.url, loans_table(20, seed=9).drop(columns=["defaulted"]))
    assert names == ["0", "1"] and np.allclose(probabilities.sum(axis=1), 1.0)
    _, prices = predict(houses.url, houses_table(20, seed=9).drop(columns=["sale_price"]))
    assert prices.shape[0] == 20 and np.all(prices > 0)


def test_deploying_a_chosen_version_of_one_model_leaves_the_other_alone(two_models):
    before = _serving(HOUSES)
    _second_loan_champion(two_models)
    assert _champion(LOANS) != "1"
    result = _deploy(LOANS, version="1", force=True)  # through the gate and the parity check, margin waived
    assert result["record"].deployed and result["record"].parity["rows"] > 0, result["decision"].reasons
    assert _serving(LOANS).model_version == "1" == _champion(LOANS)
    after = _serving(HOUSES)
    assert (after.model_version, after.details["pid"], after.url) == (before.model_version, before.details["pid"],
                                                                      before.url)


HEAVY = ("zenml", "mlflow", "sklearn", "whylogs", "sqlalchemy")


def _cli_imports(*args, cwd):
    """(exit code, output, heavy top-level packages imported) of one `run.py` command in a fresh process."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    run = Path(__file__).resolve().parents[2] / "run.py"
    proc = subprocess.run([sys.executable, "-X", "importtime", str(run), *map(str, args)], capture_output=True,
                          text=True, timeout=600, cwd=cwd)
    modules = re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*([\w.]+)$", proc.stderr, re.MULTILINE)
    errors = [line for line in proc.stderr.splitlines() if not line.startswith("import time:")]
    return proc.returncode, proc.stdout + "\n".join(errors), sorted({m.split(".")[0] for m in modules} & set(HEAVY))


def test_cli_predict_through_an_endpoint_answers_from_the_recorded_stack_as_zenml_would(two_models, tmp_path):
    """`run.py predict` through an endpoint: first the full path (no record: ZenML and MLflow choose), then from the
    record `stacks/fast_paths.py` keeps: same model choice, messages and predictions, without ZenML or MLflow."""
    from stacks import fast_paths

    batch = tmp_path / "loans.csv"
    loans_table(300, seed=4).drop(columns=["defaulted"]).to_csv(batch, index=False)
    outputs, scored = {}, {}
    for path in ("full", "recorded"):
        if path == "full":
            fast_paths.cache_path().unlink(missing_ok=True)
        out = tmp_path / f"{path}.csv"
        code, output, heavy = _cli_imports("predict", "--data", batch, "--model-name", LOANS, "--out", out,
                                           cwd=tmp_path)
        assert code == 0, output
        assert ("zenml" in heavy) if path == "full" else heavy == [], (path, heavy)
        outputs[path], scored[path] = output.replace(str(out), "OUT"), pd.read_csv(out)
    assert outputs["full"] == outputs["recorded"]
    assert f"300 predictions from model {LOANS} v" in outputs["recorded"] and "via endpoint http" in outputs["recorded"]
    # each served row has its own prediction id (what `run.py feedback` joins labels on): new ids per request
    for frame in scored.values():
        assert frame["prediction_id"].notna().all() and frame["prediction_id"].is_unique
    assert not set(scored["full"]["prediction_id"]) & set(scored["recorded"]["prediction_id"])
    pd.testing.assert_frame_equal(scored["full"].drop(columns="prediction_id"),
                                  scored["recorded"].drop(columns="prediction_id"))

    # The multi-model rule and a missing feature column: the same one-line errors from the record (a failing
    # command imports run.py's user-error types, scikit-learn among them, but never ZenML or MLflow).
    from pipelines.selection import registered_models
    from steps.deployment.rollout import tracking_uri

    if load_training_config(None, {}).model.name not in registered_models(tracking_uri()):  # else it is the default
        code, output, heavy = _cli_imports("predict", "--data", batch, cwd=tmp_path)
        assert code == 1 and "several models are deployed: say which one with --model-name" in output
        assert not {"zenml", "mlflow"} & set(heavy), heavy
    loans_table(5, seed=4).drop(columns=["defaulted", "credit_score"]).to_csv(batch, index=False)
    code, output, heavy = _cli_imports("predict", "--data", batch, "--model-name", LOANS, cwd=tmp_path)
    assert code == 1 and "missing feature column(s) credit_score" in output, output
    assert not {"zenml", "mlflow"} & set(heavy), heavy


def test_each_model_is_monitored_from_a_file_without_yaml(two_models):
    config = load_monitoring_config(None, {})
    for model, table, target in ((LOANS, loans_table(400, seed=5), "defaulted"),
                                 (HOUSES, houses_table(400, seed=5), "sale_price")):
        path = two_models["folder"] / f"{model}-batch.csv"
        table.to_csv(path, index=False)
        outcome = run_monitoring(config, model, {"path": str(path)}, **QUIET)
        assert outcome["decision"].action in ("none", "alert", "retrain")
        assert outcome["decay"] is not None and target in outcome["batch"].columns


def test_rolling_back_one_model_leaves_the_other_alone(two_models):
    _second_loan_champion(two_models)
    from steps.deployment.registry import by_alias
    from steps.deployment.rollout import tracking_uri

    previous = by_alias(LOANS, "previous-champion", tracking_uri()).version
    houses_before = _serving(HOUSES)
    record = rollback_champion(load_deployment_config(None, {}), LOANS, **QUIET)
    assert record.model_version == previous == _serving(LOANS).model_version == _champion(LOANS)
    assert _serving(HOUSES).details["pid"] == houses_before.details["pid"]


def test_a_killed_endpoint_is_brought_back_by_the_next_deploy_and_by_start(two_models):
    pid = _serving(HOUSES).details["pid"]
    os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while _serving(HOUSES).state == "active" and time.monotonic() < deadline:  # SIGKILL lands asynchronously
        time.sleep(0.2)
    assert _serving(HOUSES).state == "failed"
    result = _deploy(HOUSES)  # what `python run.py` does after a reboot: the champion is served again
    assert result["decision"].deploy and "serving it again" in result["decision"].reasons[-1]
    assert _serving(HOUSES).state == "active" and _serving(HOUSES).model_version == _champion(HOUSES)

    _deployer().stop(HOUSES)
    assert _serving(HOUSES).state == "stopped"
    info = _deployer().start(HOUSES)
    assert info.state == "active" and info.model_version == _champion(HOUSES)
    _, prices = predict(info.url, houses_table(5, seed=3).drop(columns=["sale_price"]))
    assert prices.shape[0] == 5
