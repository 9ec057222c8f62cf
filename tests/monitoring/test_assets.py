"""The Prometheus config, alert rules (with their promtool unit tests) and the Grafana dashboard."""

import json
import shutil
import subprocess

import pytest
import yaml

from monitoring import ALERT_RULES, ALERT_RULES_TESTS, ASSETS_DIR, GRAFANA_DASHBOARD, PROMETHEUS_CONFIG
from core.config import AlertsSection, ConfigError, MonitoringConfig, load_config
from monitoring import alertmanager, local
from monitoring import metrics as m
from tests.monitoring.promql import base_name, metric_names

promtool = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(promtool is None, reason="promtool missing: run .ci/deps-monitoring.sh")
amtool = shutil.which("amtool")
needs_amtool = pytest.mark.skipif(amtool is None, reason="amtool missing: run .ci/deps-monitoring.sh")

KNOWN = set(m.ALL_METRICS) | {"ALERTS"}
REQUIRED_ALERTS = {
    "ModelEndpointDown", "ModelEndpointHighErrorRate", "ModelEndpointHighLatencyP99", "DataDriftDetected",
    "ModelAccuracyBelowThreshold",
}


def _promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([promtool, *args], cwd=ASSETS_DIR, capture_output=True, text=True, timeout=60)


@needs_promtool
def test_promtool_check_config():
    result = _promtool("check", "config", PROMETHEUS_CONFIG.name)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_check_rules():
    result = _promtool("check", "rules", ALERT_RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_test_rules():
    result = _promtool("test", "rules", ALERT_RULES_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


@needs_promtool
def test_promtool_test_rules_can_fail(tmp_path):
    """A wrong expectation must fail: the unit tests are not vacuous."""
    shutil.copy(ALERT_RULES, tmp_path / "alerts.yml")
    broken = ALERT_RULES_TESTS.read_text().replace("instance: 127.0.0.1:6000", "instance: 127.0.0.1:6001", 1)
    (tmp_path / "alerts_test.yml").write_text(broken)
    result = subprocess.run([promtool, "test", "rules", "alerts_test.yml"], cwd=tmp_path, capture_output=True,
                            text=True)
    assert result.returncode != 0


@needs_promtool
def test_rendered_config_is_valid(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_STATE_DIR", str(tmp_path))
    local.write_scrape_targets(["127.0.0.1:6000", "http://127.0.0.1:6001/metrics"])
    config = local.render_config(19090, 19091, "2s", alertmanager_port=19093)
    result = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    rendered = yaml.safe_load(config.read_text())
    jobs = {job["job_name"]: job for job in rendered["scrape_configs"]}
    assert jobs["pushgateway"]["static_configs"][0]["targets"] == ["127.0.0.1:19091"]
    assert rendered["alerting"]["alertmanagers"] == [{"static_configs": [{"targets": ["127.0.0.1:19093"]}]}]
    targets = json.loads((tmp_path / "monitoring" / local.TARGETS_FILE).read_text())
    assert {(g["labels"]["__metrics_path__"], tuple(g["targets"])) for g in targets} == {
        ("/prometheus", ("127.0.0.1:6000",)), ("/metrics", ("127.0.0.1:6001",))}


def test_scrape_target_errors_are_named(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_STATE_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="scrape target 'localhost': expected host:port"):
        local.write_scrape_targets(["localhost"])


def _alert_rules():
    return [rule for group in yaml.safe_load(ALERT_RULES.read_text())["groups"] for rule in group["rules"]]


def test_alerts_cover_the_required_cases_with_known_metrics():
    rules = _alert_rules()
    assert REQUIRED_ALERTS <= {rule["alert"] for rule in rules}
    for rule in rules:
        names = {base_name(n) for n in metric_names(rule["expr"])}
        assert names and names <= KNOWN, f"{rule['alert']}: unknown metrics {names - KNOWN}"


def test_dashboard_queries_use_known_metrics():
    dashboard = json.loads(GRAFANA_DASHBOARD.read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert len(exprs) >= 8
    for expr in exprs:
        names = {base_name(n) for n in metric_names(expr)}
        assert names <= KNOWN, f"{expr}: unknown metrics {names - KNOWN}"
    used = {base_name(n) for e in exprs for n in metric_names(e)}
    assert {m.DRIFT_SHARE, m.FEATURE_HELLINGER, m.BATCH_ACCURACY, m.DECISION, m.MODEL_REQUESTS, m.MODEL_LATENCY} <= used


def live_drift_panel():
    dashboard = json.loads(GRAFANA_DASHBOARD.read_text())
    live = f'{m.SOURCE_LABEL}="{m.LIVE_SOURCE}"'
    return next(p for p in dashboard["panels"] if any(live in t["expr"] for t in p["targets"]))


def test_the_live_drift_panel_plots_drift_per_check_over_time():
    panel = live_drift_panel()
    assert panel["type"] == "timeseries"
    used = {base_name(n) for t in panel["targets"] for n in metric_names(t["expr"])}
    assert used == {m.DRIFT_SHARE, m.FEATURE_HELLINGER}
    assert all(f'{m.SOURCE_LABEL}="{m.LIVE_SOURCE}"' in t["expr"] for t in panel["targets"])
    assert any("{{feature}}" in t["legendFormat"] for t in panel["targets"])  # one line per feature
    ids = [p["id"] for p in json.loads(GRAFANA_DASHBOARD.read_text())["panels"]]
    assert len(ids) == len(set(ids))


def test_endpoint_metric_names_match_the_served_model():
    model = pytest.importorskip("serving.model", reason="serving.model not importable here")
    assert getattr(model, "REQUESTS_METRIC", m.MODEL_REQUESTS) == m.MODEL_REQUESTS
    assert getattr(model, "ERRORS_METRIC", m.MODEL_ERRORS) == m.MODEL_ERRORS
    assert getattr(model, "LATENCY_METRIC", m.MODEL_LATENCY) == m.MODEL_LATENCY


ALERT_SETTINGS = {
    "default (no url)": AlertsSection(),
    "slack": AlertsSection(webhook_url="https://hooks.slack.com/services/T000/B000/XXXX"),
    "webhook": AlertsSection(webhook_url="http://127.0.0.1:5001/alerts", format="webhook", group_wait="1s"),
    "the shipped config": load_config("monitoring", MonitoringConfig).alerts,
}


@needs_amtool
@pytest.mark.parametrize("name", list(ALERT_SETTINGS))
def test_amtool_check_config_on_the_rendered_alertmanager_config(name, tmp_path):
    path = alertmanager.write_alertmanager_config(ALERT_SETTINGS[name], tmp_path)
    result = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


@needs_amtool
def test_amtool_check_config_can_fail(tmp_path):
    """A broken route must fail: the check is not vacuous."""
    config = alertmanager.alertmanager_config(ALERT_SETTINGS["slack"])
    config["route"]["receiver"] = "nobody"
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
    result = subprocess.run([amtool, "check-config", str(tmp_path / "alertmanager.yml")], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode != 0


def test_every_alert_is_routed_to_the_configured_url():
    config = alertmanager.alertmanager_config(ALERT_SETTINGS["slack"])
    assert config["route"]["receiver"] == alertmanager.RECEIVER and "routes" not in config["route"]
    [receiver] = config["receivers"]
    assert receiver["slack_configs"][0]["api_url"] == ALERT_SETTINGS["slack"].webhook_url
    assert "model_name" in config["route"]["group_by"]  # one message per model and alert
    assert alertmanager.alertmanager_config(AlertsSection())["receivers"] == [{"name": alertmanager.NO_RECEIVER}]


def test_the_rendered_alertmanager_config_is_private(tmp_path):
    path = alertmanager.write_alertmanager_config(ALERT_SETTINGS["slack"], tmp_path)
    assert path.stat().st_mode & 0o077 == 0  # a Slack webhook URL is a credential


@pytest.mark.parametrize("field,value,message", [
    ("webhook_url", "hooks.slack.com/services/x", "alerts.webhook_url"),
    ("group_wait", "30 seconds", "alerts.group_wait"),
    ("format", "teams", "alerts.format"),
])
def test_bad_alert_settings_are_named(field, value, message):
    with pytest.raises(ConfigError, match=message):
        load_config("monitoring", MonitoringConfig, {f"alerts.{field}": value})
