"""A/B test end to end on the local stack (ZenML, MLflow, real Seldon daemons, real nginx): start with a plan,
feedback labels a simulated better challenger -> "not enough data" before the plan, "challenger better" after;
promote through the registry aliases and ZenML stage; a challenger that errors is aborted by the guardrail."""

from __future__ import annotations

import random

import pytest
import requests

from pipelines.abtest import ABTestError, abtest_status, read_test, start_abtest, stop_abtest
from pipelines.launch import load_deployment_config, load_training_config, prepare_environment, run_deployment, \
    run_training
from serving import live_store
from steps.data.generator import generate_batch
from steps.deployment.endpoint_client import seldon_payload
from tests.serving.conftest import wait_for

pytestmark = pytest.mark.integration

MODEL = "abtest-churn"  # its own model: other modules of the session deploy the demo model
FAST = {"data.n_rows": 1200, "training.search.space": {"max_depth": [3]}, "training.search.cv_folds": 2,
        "enable_cache": False, "model.name": MODEL}
# A small test: a large effect to detect, so the plan needs few labelled rows (~80 per variant).
ABTEST = {"abtest.min_detectable_effect": 0.15, "abtest.split_percent": 50}
QUIET = {"say": lambda _: None}


@pytest.fixture(scope="module")
def stack():
    from stacks.registration import register_stack
    from steps.deployment.rollout import active_deployer

    prepare_environment()
    register_stack("local")
    run_training(load_training_config(None, FAST), "", **QUIET)
    run_deployment(load_deployment_config(None, {}), MODEL, **QUIET)
    run_training(load_training_config(None, {**FAST, "data.seed": 7, "training.seed": 7}), "", **QUIET)
    deployer = active_deployer()
    try:
        yield deployer
    finally:
        for entry in deployer.list_deployments():
            if entry.name == MODEL:
                deployer.delete(entry.name)


def _customers(n: int, seed: int):
    from zenml.client import Client

    schema = Client().get_model_version(MODEL, "production").get_artifact("data_schema").load()
    return generate_batch(n, seed=seed, drift=0.0)[schema.features]


def _serve(url: str, n_requests: int, seed: int):
    """One customer per request; returns [(prediction id, predicted class, model version)]."""
    frame = _customers(n_requests, seed)
    out = []
    with requests.Session() as session:
        for i in range(n_requests):
            body = session.post(url, json=seldon_payload(frame.iloc[i:i + 1]),
                                timeout=60).json()
            names, scores = body["data"]["names"], body["data"]["ndarray"][0]
            out.append((body["meta"]["puid"], names[scores.index(max(scores))], body["meta"]["tags"]["model_version"]))
    return out


def _feedback(url: str, served, correct_share: dict, seed: int) -> None:
    """Labels through the Seldon feedback API: a version's prediction is right with its `correct_share` (the
    simulated truth that makes the challenger better)."""
    rng = random.Random(seed)
    for puid, predicted, version in served:
        right = rng.random() < correct_share[version]
        truth = predicted if right else ("0" if predicted == "1" else "1")
        reply = requests.post(url.replace("/predictions", "/feedback"), timeout=30,
                              json={"response": {"meta": {"puid": puid}}, "truth": {"data": {"ndarray": [int(truth)]}}})
        assert reply.status_code == 200, reply.text


def _logged(directory, n: int) -> None:
    assert wait_for(lambda: len(list(live_store.prediction_records(directory))) >= n, timeout=30)


def test_verdict_turns_better_once_the_plan_is_reached_and_promote_moves_aliases_and_endpoint(stack):
    from zenml.client import Client
    from zenml.enums import ModelStages

    from core import names
    from steps.deployment.registry import by_alias
    from steps.deployment.rollout import tracking_uri
    from steps.monitoring.live import live_dir_of

    config = load_deployment_config(None, ABTEST)
    info = stack.status(MODEL)
    champion = info.model_version
    test = start_abtest(config, MODEL, **QUIET)  # default: the registry's challenger (the second training)
    challenger = test["challenger"]["version"]
    assert challenger != champion and test["split"]["challenger_percent"] == 50
    required = test["plan"]["required_per_variant"]
    assert 30 <= required <= 200, required
    with pytest.raises(ABTestError, match="an A/B test .* is running"):
        run_deployment(config, MODEL, **QUIET)
    directory = live_dir_of(stack.status(MODEL))
    truth = {champion: 0.75, challenger: 0.97}

    early = _serve(info.url, required // 2, seed=1)
    _feedback(info.url, early, truth, seed=1)
    _logged(directory, len(early))
    status = abtest_status(config, MODEL, **QUIET)
    assert status["verdict"]["verdict"] == "not enough data"
    assert "interim" in status["verdict"]["note"]
    served = {h["name"]: h["requests"] for h in status["health"]}
    assert served["champion"] + served["challenger"] == len(early) and min(served.values()) > 0

    more = _serve(info.url, 3 * required, seed=2)
    _feedback(info.url, more[:-30], truth, seed=2)  # the last 30 stay unlabelled: estimated, not realized
    _logged(directory, len(early) + len(more))
    status = abtest_status(config, MODEL, **QUIET)
    verdict = status["verdict"]
    assert verdict["verdict"] == "challenger better", verdict
    assert verdict["ci_low"] > 0 and verdict["n_challenger"] >= required
    assert any((v.get("estimated") or {}).get("rows") for v in status["variants"].values()), status["variants"]

    ended = stop_abtest(config, MODEL, promote=True, **QUIET)
    assert ended["promoted"] and ended["champion"] == challenger and ended["previous_champion"] == champion
    import mlflow

    logged = mlflow.MlflowClient(tracking_uri()).get_run(ended["recorded"]["mlflow_run_id"])
    assert logged.data.tags["verdict"] == "challenger better" and logged.data.params["plan_metric"] == "accuracy"
    assert logged.data.metrics["abtest_ci_low"] > 0
    uri = tracking_uri()
    assert by_alias(MODEL, "champion", uri).version == challenger
    assert by_alias(MODEL, "previous-champion", uri).version == champion
    now = stack.status(MODEL)
    assert (now.state, now.model_version, now.url) == ("active", challenger, info.url)
    assert read_test(MODEL) is None and stack.challenger(MODEL) is None
    production = Client().get_model_version(MODEL, ModelStages.PRODUCTION)
    assert str(production.id) == test["challenger"]["zenml_model_version"]
    for role in ("champion", "challenger"):  # the result is on both model versions' pages
        version = Client().get_model_version(MODEL, test[role]["zenml_model_version"])
        assert version.get_artifact(names.ABTEST_RESULT).load().decision == "challenger better"
    assert {v for _, _, v in _serve(info.url, 10, seed=3)} == {challenger}


def test_the_guardrail_aborts_a_challenger_that_errors_and_leaves_the_champion(stack):
    from core import process
    from core.process import Identity
    from stacks.seldon.local_checks import DAEMON_MARKER
    from steps.deployment.registry import by_alias
    from steps.deployment.rollout import tracking_uri

    config = load_deployment_config(None, ABTEST)
    info = stack.status(MODEL)
    champion = info.model_version
    uri = tracking_uri()
    aliases = {a: by_alias(MODEL, a, uri).version for a in ("champion", "previous-champion")}
    other = aliases["previous-champion"]
    start_abtest(config, MODEL, version=other, **QUIET)
    # the challenger crashes for good (its supervisor too): nginx answers its share with 503
    instance = stack.backend().registry.read()["deployments"][MODEL]["challenger"]
    process.stop(Identity.of(instance, DAEMON_MARKER), grace=5.0)
    answers = []
    rows = _customers(40, seed=100)
    with requests.Session() as session:
        for i in range(40):
            answers.append(session.post(info.url, json=seldon_payload(rows.iloc[i:i + 1]), timeout=60).status_code)
    assert 503 in answers and 200 in answers
    said = []
    status = abtest_status(config, MODEL, say=said.append)
    assert status["aborted"] and status["guardrails"]["breached"]
    assert any("challenger" in r for r in status["guardrails"]["reasons"])
    assert any("aborting the A/B test" in line for line in said)
    assert stack.challenger(MODEL) is None and read_test(MODEL) is None
    assert stack.status(MODEL).model_version == champion
    assert {a: by_alias(MODEL, a, uri).version for a in aliases} == aliases
    with requests.Session() as session:
        row = _customers(1, seed=999)
        assert all(session.post(info.url, json=seldon_payload(row), timeout=60).status_code == 200 for _ in range(20))
