"""Notifications: a failing step, a batch refused by validation and a retrain decision reach a webhook (a local
sink standing in for Slack) through the stack's project alerter; without a URL nothing is sent and it is said once."""

import logging

import pytest
from typing_extensions import Annotated
from zenml import pipeline, step

from monitoring import notify
from monitoring.notify import Notification, decision_notification, failure_notification, post_notification
from steps.data.validation import DataValidationError, ValidationReport
from core.config import AlertsSection
from steps.hooks import notify_failure
from steps.monitoring.decision import MonitoringDecision
from steps.monitoring.steps import batch_quality_gate, notify_decision
from tests.monitoring.webhook_sink import webhook_sink

WAIT_S = 30
ALERTER = "webhook-alerter"


@step(enable_cache=False)
def train_on_missing_data() -> int:
    raise FileNotFoundError("training data data/churn.csv is gone")


@step(enable_cache=False)
def failed_validation() -> Annotated[ValidationReport, "validation_report"]:
    return ValidationReport(passed=False, n_rows=10, n_checks=1,
                            failures=[{"column": "tenure_months", "check": "present", "expected": "a column",
                                      "found": "none"}])


@step(enable_cache=False)
def retrain_decision() -> Annotated[MonitoringDecision, "monitoring_decision"]:
    return MonitoringDecision("retrain", ["7 of 12 features drifted (58%)"])


@pipeline(enable_cache=False, on_failure=notify_failure)
def failing_training() -> None:
    train_on_missing_data()


@pipeline(enable_cache=False, on_failure=notify_failure)
def rejecting_monitoring() -> None:
    batch_quality_gate(failed_validation())


@pipeline(enable_cache=False, on_failure=notify_failure)
def deciding_monitoring() -> None:
    notify_decision(retrain_decision(), "churn-model")


@pytest.fixture(scope="module")
def alerted_stack():
    """The real local stack (with its project alerter) posting to a local sink."""
    from zenml.client import Client
    from zenml.enums import StackComponentType

    from pipelines.launch import prepare_environment
    from stacks.registration import register_stack

    prepare_environment()
    register_stack("local")
    client = Client()
    assert client.active_stack_model.components[StackComponentType.ALERTER][0].name == ALERTER
    with webhook_sink() as sink:
        client.update_stack_component(ALERTER, StackComponentType.ALERTER, configuration={"webhook_url": sink.url})
        try:
            yield sink
        finally:
            client.update_stack_component(ALERTER, StackComponentType.ALERTER, configuration={"webhook_url": None})


@pipeline(enable_cache=False)
def deciding_with_own_config(alerts: AlertsSection) -> None:
    notify_decision(retrain_decision(), "loans-model", alerts)


def _event(body):
    return body["json"].get("event", {})


@pytest.mark.integration
def test_a_failed_training_step_is_posted(alerted_stack):
    with pytest.raises(Exception):
        failing_training.with_options(run_name="failing-training-{time}")()
    body = alerted_stack.wait_for(lambda b: _event(b).get("pipeline") == "failing_training", WAIT_S)
    event = _event(body)
    assert event["event"] == "run_failed" and event["severity"] == "critical"
    assert event["step"] == "train_on_missing_data" and event["run"].startswith("failing-training-")
    assert "Pipeline run failed: failing_training" in body["json"]["text"]
    assert "FileNotFoundError: training data data/churn.csv is gone" in body["json"]["text"]
    assert body["path"] == "/hooks/test" and body["content_type"] == "application/json"


@pytest.mark.integration
def test_a_batch_refused_by_validation_is_posted_as_rejected(alerted_stack):
    with pytest.raises(Exception):
        rejecting_monitoring()
    body = alerted_stack.wait_for(lambda b: _event(b).get("pipeline") == "rejecting_monitoring", WAIT_S)
    assert _event(body)["event"] == "batch_rejected" and _event(body)["step"] == "batch_quality_gate"
    assert body["json"]["text"].startswith("*Batch rejected by validation (rejecting_monitoring)*")
    assert "tenure_months" in body["json"]["text"]


@pytest.mark.integration
def test_a_retrain_decision_is_posted(alerted_stack):
    deciding_monitoring()
    body = alerted_stack.wait_for(lambda b: _event(b).get("event") == "monitoring_decision", WAIT_S)
    assert _event(body)["action"] == "retrain" and _event(body)["model"] == "churn-model"
    assert "Monitoring: retrain model 'churn-model'" in body["json"]["text"]
    assert "7 of 12 features drifted" in body["json"]["text"]
    fields = {f["title"]: f["value"] for f in body["json"]["attachments"][0]["fields"]}
    assert fields["action"] == "retrain"


def test_no_decision_to_tell_for_none():
    assert decision_notification("m", "none", []) is None
    assert decision_notification("m", "alert", ["prediction drift"]).severity == "warning"


def test_without_a_url_nothing_is_sent_and_it_is_said_once(caplog, monkeypatch):
    monkeypatch.setattr(notify, "_SAID_NO_URL", False)
    note = failure_notification("p", "r", "s", RuntimeError("x"))
    with caplog.at_level(logging.INFO, logger="monitoring.notify"):
        assert post_notification(None, note, 1.0) is False
        assert post_notification("", note, 1.0) is False
    said = [r.getMessage() for r in caplog.records if "alerts.webhook_url" in r.getMessage()]
    assert len(said) == 1 and "Pipeline run failed: p" in said[0]


def test_an_unreachable_receiver_warns_and_never_raises(caplog):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once closed
    note = Notification("t", "x", "info", {})
    with caplog.at_level(logging.WARNING, logger="monitoring.notify"):
        assert post_notification(f"http://127.0.0.1:{port}/secret-path", note, 2.0) is False
    assert f"127.0.0.1:{port}" in caplog.text and "secret-path" not in caplog.text


def test_a_long_error_is_cut_for_the_message():
    note = failure_notification("p", "r", "s", ValueError("y" * 5000))
    assert len(note.text) < 800 and note.text.endswith(" ...")


@pytest.mark.integration
def test_the_decision_goes_to_the_webhook_of_the_commands_own_config(alerted_stack):
    """`run.py monitor --config mine.yaml`: without a URL on the component, the decision is posted to mine.yaml's
    alerts.webhook_url (the shipped config has none)."""
    from zenml.client import Client
    from zenml.enums import StackComponentType

    from zenml.stack import stack as zenml_stack

    def configure_alerter(url):
        Client().update_stack_component(ALERTER, StackComponentType.ALERTER, configuration={"webhook_url": url})
        zenml_stack._STACK_CACHE.clear()  # ZenML keys its in-process stack cache on the stack, not its components

    configure_alerter(None)
    try:
        with webhook_sink() as own:
            deciding_with_own_config(AlertsSection(webhook_url=own.url))
            body = own.wait_for(lambda b: _event(b).get("model") == "loans-model", WAIT_S)
        assert _event(body)["action"] == "retrain"
    finally:
        configure_alerter(alerted_stack.url)
