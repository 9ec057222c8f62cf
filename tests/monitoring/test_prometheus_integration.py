"""A real Prometheus scrapes a real HTTP endpoint and the real Pushgateway; its HTTP API returns the project's
metrics, loads the alert rules and fires the drift alert. Every Grafana query is parsed by that Prometheus."""

import json
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from monitoring import GRAFANA_DASHBOARD, local
from monitoring import metrics as m
from monitoring.push import monitoring_metrics, publish_monitoring_results, push_monitoring_results
from steps.monitoring.decay import DecayReport
from steps.monitoring.decision import MonitoringDecision
from steps.monitoring.drift import ColumnDrift, DriftReport
from tests.monitoring.test_assets import REQUIRED_ALERTS, live_drift_panel

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not all(shutil.which(b) for b in local.BINARIES.values()),
                       reason="prometheus / pushgateway / alertmanager missing: run .ci/deps-monitoring.sh"),
]


class _ModelMetrics(BaseHTTPRequestHandler):
    """Serves what the Seldon microservice serves on /prometheus, with the project's metric names."""

    scrapes = 0

    def do_GET(self):  # noqa: N802 (http.server API)
        if self.path != "/prometheus":
            self.send_error(404)
            return
        type(self).scrapes += 1
        n = 10 * type(self).scrapes
        labels = 'model_name="churn",model_version="3",worker_id="1"'
        body = (
            f"# TYPE {m.MODEL_REQUESTS} counter\n{m.MODEL_REQUESTS}{{{labels}}} {n}\n"
            f"# TYPE {m.MODEL_ERRORS} counter\n{m.MODEL_ERRORS}{{{labels},reason=\"bad_data\"}} {n // 10}\n"
            f"# TYPE {m.MODEL_LATENCY} histogram\n"
            f"{m.MODEL_LATENCY}_bucket{{{labels},le=\"0.01\"}} {n // 2}\n"
            f"{m.MODEL_LATENCY}_bucket{{{labels},le=\"0.1\"}} {n}\n"
            f"{m.MODEL_LATENCY}_bucket{{{labels},le=\"+Inf\"}} {n}\n"
            f"{m.MODEL_LATENCY}_sum{{{labels}}} {n * 0.02}\n{m.MODEL_LATENCY}_count{{{labels}}} {n}\n"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture(scope="module")
def endpoint():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ModelMetrics)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def stack(endpoint, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLOPS_STATE_DIR", str(tmp_path_factory.mktemp("monitoring-state")))
        info = local.up([endpoint], scrape_interval="1s", prometheus_port=0, pushgateway_port=0, alertmanager_port=0)
        try:
            yield info
        finally:
            stopped = local.down()
            assert set(stopped["stopped"]) == set(local.BINARIES)
            for name in local.BINARIES:
                assert not local._alive(info[name]), f"{name} still running after down()"


def _query(info, expr):
    response = requests.get(f"{info['prometheus_url']}/api/v1/query", params={"query": expr}, timeout=5)
    payload = response.json()
    assert payload["status"] == "success", f"{expr}: {payload}"
    return payload["data"]["result"]


def _wait_for(info, expr, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = _query(info, expr)
        if result:
            return result
        time.sleep(0.5)
    targets = requests.get(f"{info['prometheus_url']}/api/v1/targets", timeout=5).json()
    raise AssertionError(f"no result for {expr} after {timeout}s; targets: {json.dumps(targets)[:1500]}")


def test_up_is_idempotent_and_reports_where_to_look(stack, endpoint):
    again = local.up([endpoint])
    assert again["prometheus"]["pid"] == stack["prometheus"]["pid"]
    text = local.describe(again)
    assert stack["prometheus_url"] in text and stack["pushgateway_url"] in text


def test_prometheus_scrapes_the_endpoint(stack):
    up = _wait_for(stack, 'up{job="seldon"} == 1')
    assert up[0]["metric"]["instance"].startswith("127.0.0.1:")
    requests_total = _wait_for(stack, f'{m.MODEL_REQUESTS}{{job="seldon"}}')
    assert requests_total[0]["metric"]["model_version"] == "3"
    _wait_for(stack, f'{m.MODEL_LATENCY}_bucket{{job="seldon"}}')


def test_pushed_batch_results_reach_prometheus_and_fire_the_drift_alert(stack):
    columns = [ColumnDrift("age", "numeric", 0.31, 0.1, True), ColumnDrift("plan", "categorical", 0.02, 0.1, False)]
    drift = DriftReport(columns, 0.5, ["age"], True)
    decay = DecayReport("binary", 500, {"accuracy": 0.70}, {"accuracy": 0.86}, {"accuracy": 0.16}, {"accuracy": 0.05},
                        True, ["accuracy dropped"])
    values = monitoring_metrics(drift, decay, MonitoringDecision("retrain", ["drift"]), n_rows=500)
    push_monitoring_results(stack["pushgateway_url"], "monitoring", values, {"model_name": "churn"})

    share = _wait_for(stack, m.DRIFT_SHARE)
    assert share[0]["metric"]["model_name"] == "churn" and float(share[0]["value"][1]) == 0.5
    age = _wait_for(stack, f'{m.FEATURE_HELLINGER}{{feature="age"}}')
    assert float(age[0]["value"][1]) == pytest.approx(0.31)
    _wait_for(stack, f'{m.DECISION}{{action="retrain"}} == 1')

    deadline = time.monotonic() + 30
    firing = set()
    while time.monotonic() < deadline and not {"DataDriftDetected", "ModelAccuracyBelowThreshold"} <= firing:
        alerts = requests.get(f"{stack['prometheus_url']}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
        firing = {a["labels"]["alertname"] for a in alerts if a["state"] == "firing"}
        time.sleep(0.5)
    assert {"DataDriftDetected", "ModelAccuracyBelowThreshold", "DataDriftRetrainLevel"} <= firing


def test_rules_are_loaded_and_dashboard_queries_parse(stack):
    groups = requests.get(f"{stack['prometheus_url']}/api/v1/rules", timeout=5).json()["data"]["groups"]
    loaded = {rule["name"] for group in groups for rule in group["rules"]}
    assert REQUIRED_ALERTS <= loaded
    assert all(rule["health"] != "err" for group in groups for rule in group["rules"])
    dashboard = json.loads(GRAFANA_DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            _query(stack, target["expr"])  # asserts status == success (the query parsed and ran)


def test_the_live_drift_panel_shows_what_a_live_check_pushed(stack):
    """The panel's PromQL, run by the real Prometheus, returns the series a live check pushes (real names and
    labels), per feature, and not the batch results of the same model."""
    columns = [ColumnDrift("age", "numeric", 0.42, 0.1, True), ColumnDrift("region", "categorical", 0.03, 0.1, False)]
    live = monitoring_metrics(DriftReport(columns, 0.5, ["age"], True), None, MonitoringDecision("alert", ["drift"]),
                              n_rows=300)
    batch = monitoring_metrics(DriftReport([ColumnDrift("plan", "categorical", 0.9, 0.1, True)], 1.0, ["plan"], True))
    assert publish_monitoring_results(stack["pushgateway_url"], "live-model", live, source=m.LIVE_SOURCE)
    assert publish_monitoring_results(stack["pushgateway_url"], "live-model", batch)
    share_expr, feature_expr = (t["expr"] for t in live_drift_panel()["targets"])
    share = _wait_for(stack, share_expr)
    assert [(r["metric"]["model_name"], float(r["value"][1])) for r in share] == [("live-model", 0.5)]
    features = _wait_for(stack, feature_expr)
    assert {r["metric"]["feature"]: float(r["value"][1]) for r in features} == {"age": 0.42, "region": 0.03}
