"""An alert reaches someone: `monitoring up` runs Prometheus + Pushgateway + Alertmanager, a pushed monitoring
result fires a rule, and Alertmanager delivers it to a webhook (a local sink standing in for Slack)."""

import shutil

import pytest

from core.config import AlertsSection
from monitoring import local
from monitoring import metrics as m
from monitoring.push import push_monitoring_results, series
from tests.monitoring.webhook_sink import webhook_sink

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not all(shutil.which(b) for b in local.BINARIES.values()),
                       reason="prometheus / pushgateway / alertmanager missing: run .ci/deps-monitoring.sh"),
]

DELIVERY_WAIT_S = 90  # scrape 1 s + evaluation 1 s + group_wait 1 s, with room for a busy machine


@pytest.fixture
def sink():
    with webhook_sink() as receiver:
        yield receiver


@pytest.mark.parametrize("fmt", ["slack", "webhook"])
def test_pushed_drift_fires_a_rule_and_the_alert_arrives_at_the_webhook(sink, fmt, tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_STATE_DIR", str(tmp_path))
    alerts = AlertsSection(webhook_url=sink.url, format=fmt, group_wait="1s", group_interval="1s")
    info = local.up([], alerts=alerts, scrape_interval="1s", prometheus_port=0, pushgateway_port=0,
                    alertmanager_port=0)
    try:
        assert info["running"] and info["alertmanager"]["alive"]
        assert info["alertmanager_url"].startswith("http://127.0.0.1:")
        push_monitoring_results(info["pushgateway_url"], "batch_monitoring",
                                {series(m.DRIFT_DETECTED): 1, series(m.DRIFT_SHARE): 0.5},
                                {"model_name": "alerted-model"})
        if fmt == "slack":
            body = sink.wait_for(lambda b: "DataDriftDetected" in str(b["json"]), DELIVERY_WAIT_S)["json"]
            attachment = body["attachments"][0]
            assert "FIRING" in attachment["title"] and "alerted-model" in attachment["title"]
            assert "Data drift detected for alerted-model" in attachment["text"]
        else:
            body = sink.wait_for(lambda b: "DataDriftDetected" in str(b["json"]), DELIVERY_WAIT_S)["json"]
            alert = next(a for a in body["alerts"] if a["labels"]["alertname"] == "DataDriftDetected")
            assert alert["status"] == "firing" and alert["labels"]["model_name"] == "alerted-model"
            assert alert["labels"]["severity"] == "warning"
            assert alert["annotations"]["summary"] == "Data drift detected for alerted-model"
    finally:
        stopped = local.down()
    assert set(stopped["stopped"]) == set(local.BINARIES)
    assert not any(local._alive(info[name]) for name in local.BINARIES)


def test_without_a_url_alerts_stay_in_alertmanager(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_STATE_DIR", str(tmp_path))
    info = local.up([], alerts=AlertsSection(), prometheus_port=0, pushgateway_port=0, alertmanager_port=0)
    try:
        assert "not delivered" in info["receiver"]
        assert "Alertmanager:" in local.describe(info) and "alerts.webhook_url" in local.describe(info)
    finally:
        local.down()
