"""Live monitoring end to end: a real endpoint (local stack, ZenML, MLflow, Seldon) records what it serves; a stream
from a drifting generator turns into window profiles; `monitor --live` flags exactly the shifted features; labels fed
back through the Seldon feedback API and through a file give realized performance."""

from __future__ import annotations

import time

import pytest
import requests

from pipelines.continuous_training import load_monitoring_config
from pipelines.launch import load_deployment_config, load_training_config, prepare_environment, run_deployment, \
    run_training
from pipelines.live_monitoring import run_live_monitoring
from serving import live_store
from steps.data.generator import generate_batch
from steps.deployment.endpoint_client import seldon_payload
from steps.monitoring.live import LiveTrafficError, live_dir_of
from core.whylogs_env import why  # noqa: F401
from tests.serving.conftest import wait_for

pytestmark = pytest.mark.integration

MODEL = "live-churn"  # its own model: other modules of the session deploy the demo model
WINDOW = 4
SHIFTED = ["age", "avg_session_minutes"]
STABLE = ["contract_type", "payment_method", "region", "plan", "support_calls"]
FAST = {"data.n_rows": 1500, "training.search.space": {"max_depth": [3]}, "training.search.cv_folds": 2,
        "enable_cache": False, "model.name": MODEL}
QUIET = {"say": lambda _: None}


def drifting_stream(n_rows: int, seed: int, shifted: bool):
    """Customers as the generator makes them; with `shifted`, SHIFTED columns come from the fully drifted world."""
    batch = generate_batch(n_rows, seed=seed, drift=0.0)
    if shifted:
        drifted = generate_batch(n_rows, seed=seed, drift=1.0)
        for column in SHIFTED:
            batch[column] = drifted[column]
    return batch


@pytest.fixture(scope="module")
def live():
    from zenml.client import Client

    from stacks.registration import register_stack
    from steps.deployment.rollout import active_deployer

    prepare_environment()
    register_stack("local")
    run_training(load_training_config(None, FAST), "", **QUIET)
    # Short windows through configs/deployment.yaml's serving.recording, as a user sets them: the windows the tests
    # see only exist if the settings reach the daemon.
    recording = {"serving.recording.window_seconds": WINDOW, "serving.recording.write_seconds": 1}
    run_deployment(load_deployment_config(None, recording), MODEL, **QUIET)
    deployer = active_deployer()
    info = deployer.status(MODEL)
    schema = Client().get_model_version(MODEL, "production").get_artifact("data_schema").load()
    try:
        yield info, live_dir_of(info), schema
    finally:
        for entry in deployer.list_deployments():
            deployer.delete(entry.name)


def _send(info, frame, rows_per_request: int = 20):
    """Serve `frame` through the endpoint; return (prediction ids, predicted classes) in row order."""
    ids, classes = [], []
    with requests.Session() as session:
        for start in range(0, len(frame), rows_per_request):
            body = session.post(info.url, json=seldon_payload(frame.iloc[start:start + rows_per_request]),
                                timeout=60).json()
            ids += body["meta"]["tags"]["prediction_ids"]
            names = body["data"]["names"]
            classes += [names[max(range(len(r)), key=r.__getitem__)] for r in body["data"]["ndarray"]]
    return ids, classes


def _settle(directory, n_rows: int) -> None:
    """Wait until the current window has closed and every row sent is in the written profiles."""
    time.sleep(WINDOW - time.time() % WINDOW + 0.2)

    def recorded() -> int:
        view = live_store.merged_profile(directory, live_store.windows(directory))
        return 0 if view is None else int(view.get_column("age").get_metric("counts").n.value)

    assert wait_for(lambda: recorded() >= n_rows, timeout=30), "window profiles did not reach the rows sent"
    # Rows sent before (the deploy's own checks) may still be in a worker's buffer on a busy machine: wait until
    # the count holds still across more than one flush interval.
    previous = -1
    while recorded() != previous:
        previous = recorded()
        time.sleep(5)


def test_monitor_live_flags_the_shifted_features_and_not_the_stable_ones(live):
    info, directory, schema = live
    config = load_monitoring_config(None, {})
    # The deploy's own checks (parity rows through the endpoint) are served traffic too: check them off first.
    _settle(directory, 0)
    if live_store.windows(directory):
        run_live_monitoring(config, MODEL, **QUIET)
    with pytest.raises(LiveTrafficError, match="no traffic recorded"):
        run_live_monitoring(config, MODEL, **QUIET)
    before = len(list(live_store.prediction_records(directory)))

    calm = drifting_stream(1200, seed=31, shifted=False)
    _send(info, calm[schema.features])
    _settle(directory, before + len(calm))
    assert live_store.windows(directory), "no window profiles written"
    first = run_live_monitoring(config, MODEL, **QUIET)
    assert first["drift"].drifted_columns == [], first["drift"].drifted_columns
    assert len(first["batch"]) == len(calm)

    stormy = drifting_stream(1200, seed=32, shifted=True)
    _send(info, stormy[schema.features])
    _settle(directory, before + len(calm) + len(stormy))
    second = run_live_monitoring(config, MODEL, **QUIET)
    assert len(second["batch"]) == len(stormy), "the second check must cover only the windows since the first"
    drifted = set(second["drift"].drifted_columns)
    assert set(SHIFTED) <= drifted and not drifted & set(STABLE), drifted
    assert second["decision"].action in ("alert", "retrain")

    everything = run_live_monitoring(config, MODEL, since="1h", **QUIET)
    assert len(everything["batch"]) == before + len(calm) + len(stormy)


def test_labels_through_the_feedback_api_and_a_file_give_realized_performance(live, tmp_path):
    from pipelines.live_monitoring import record_labels
    from steps.monitoring.realized import realized_by_window

    info, directory, schema = live
    time.sleep(WINDOW - time.time() % WINDOW + 0.2)  # a window of its own
    frame = drifting_stream(400, seed=33, shifted=False)
    ids, predicted = _send(info, frame[schema.features], rows_per_request=10)
    truth = frame[schema.target].tolist()
    window_of = {}

    def served():
        records = list(live_store.prediction_records(directory))
        window_of.update({r["id"]: r for r in records})
        return all(i in window_of for i in ids)

    assert wait_for(served, timeout=30)
    _settle(directory, 0)  # and the window's profile is written
    half = len(ids) // 2
    feedback_url = info.url.replace("/predictions", "/feedback")
    for start in range(0, half, 50):
        part = slice(start, min(start + 50, half))
        reply = requests.post(feedback_url, json={"response": {"meta": {"tags": {"prediction_ids": ids[part]}}},
                                                  "truth": {"data": {"ndarray": truth[part]}}}, timeout=30)
        assert reply.status_code == 200, reply.text
    labels_file = tmp_path / "labels.csv"
    import pandas as pd

    pd.DataFrame({"pid": ids[half:] + ["no-such-id"], "churned": truth[half:] + [1]}).to_csv(labels_file, index=False)
    said = []
    realized = record_labels(MODEL, str(labels_file), "pid", "churned", said.append)
    assert any("1 ids match no prediction" in s for s in said), said
    assert realized["labelled"].sum() == len(ids)
    expected_accuracy = sum(str(p) == str(t) for p, t in zip(predicted, truth)) / len(ids)
    weighted = (realized["accuracy"] * realized["labelled"]).sum() / realized["labelled"].sum()
    assert weighted == pytest.approx(expected_accuracy)
    assert {"roc_auc", "accuracy"} <= set(realized.columns)
    assert realized.equals(realized_by_window(directory, schema.task, schema.classes))

    with pytest.raises(Exception, match="no column 'label'"):
        record_labels(MODEL, str(labels_file), "pid", "label", said.append)

    outcome = run_live_monitoring(load_monitoring_config(None, {}), MODEL, since="1h", **QUIET)
    assert outcome["decay"] is not None and outcome["decay"].n_rows == len(ids)
    estimated = outcome["estimated"]  # CBPE per window, beside the realized figures
    assert not estimated.empty and estimated["est_accuracy"].between(0.5, 1.0).all()
    assert (estimated["accuracy_lower"] <= estimated["est_accuracy"]).all()


def test_scheduled_live_monitoring_runs_by_itself_against_the_recorded_store(live, tmp_path):
    """`monitor --live --every 5s` as the CLI starts it: with nothing new served a run fails (logged, posted, the
    loop goes on); traffic served later is monitored by the next run without anyone asking."""
    import yaml

    from core.config import CONFIG_DIR
    from monitoring import schedule
    from tests.monitoring.webhook_sink import webhook_sink

    info, directory, schema = live
    _settle(directory, 0)
    try:  # check off what earlier tests (and the deploy's parity rows) left unchecked
        run_live_monitoring(load_monitoring_config(None, {}), MODEL, **QUIET)
    except LiveTrafficError:
        pass
    with webhook_sink() as sink:
        raw = yaml.safe_load((CONFIG_DIR / "monitoring.yaml").read_text())
        raw["alerts"]["webhook_url"] = sink.url
        config = tmp_path / "monitoring.yaml"
        config.write_text(yaml.safe_dump(raw))
        name = schedule.schedule_name(MODEL)
        started = schedule.start(name, 5, schedule.monitor_command(MODEL, str(config)), str(config))
        try:
            assert started["running"]
            failed = sink.wait_for(lambda b: b["json"]["event"].get("event") == "schedule_run_failed", 300)
            assert "no traffic recorded" in failed["json"]["text"]
            sent = len(list(live_store.prediction_records(directory)))
            frame = drifting_stream(600, seed=34, shifted=True)
            _send(info, frame[schema.features])
            _settle(directory, sent + len(frame))
            assert wait_for(lambda: schedule.status(name).get("ok", 0) >= 1, timeout=400, interval=2), \
                schedule.status(name)
            assert schedule.status(name)["running"], "the loop must go on after runs"
        finally:
            schedule.stop(name)
    log = (schedule.schedule_dir(name) / "schedule.log").read_text()
    assert "monitoring decision:" in log and "run ok" in log and "run failed (exit 1)" in log
    assert not schedule.status(name)["running"]
