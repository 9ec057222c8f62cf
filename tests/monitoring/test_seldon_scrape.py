"""End to end: the real Prometheus (run by monitoring.local) scrapes a real Seldon microservice serving a real model,
and the endpoint alert expressions evaluate on its metrics (error-rate alert goes pending)."""

import os
import shutil
import time

import pytest
import requests
import yaml

from monitoring import ALERT_RULES, local
from monitoring import metrics as m

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not shutil.which("prometheus"), reason="prometheus missing: run .ci/deps-monitoring.sh"),
]

try:  # the serving stage's own fixtures: a microservice process in the pinned serving environment
    from serving.environment import ENV_DIR_ENV, ensure_serving_env
    from tests.serving.conftest import SERVING_ENV_CACHE, Microservice
    from tests.serving.model_factory import CATEGORICAL, NUMERIC, make_frame, train_and_save
except ImportError as exc:  # pragma: no cover - depends on the serving stage being present
    pytest.skip(f"serving stage not importable: {exc}", allow_module_level=True)

COLUMNS = NUMERIC + CATEGORICAL


def _payload(frame):
    rows = [[None if isinstance(v, float) and v != v else v for v in row] for row in frame[COLUMNS].values.tolist()]
    return {"data": {"names": COLUMNS, "ndarray": rows}}


@pytest.fixture(scope="module")
def microservice(tmp_path_factory):
    os.environ[ENV_DIR_ENV] = str(SERVING_ENV_CACHE)
    python = ensure_serving_env(root=SERVING_ENV_CACHE)
    model_dir = tmp_path_factory.mktemp("model") / "model"
    train_and_save(model_dir, "logreg", "str", n_rows=600)
    ms = Microservice(python, model_dir, tmp_path_factory.mktemp("ms-logs"))
    yield ms
    ms.stop()


@pytest.fixture(scope="module")
def prometheus(microservice, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLOPS_STATE_DIR", str(tmp_path_factory.mktemp("monitoring-state")))
        info = local.up([f"http://127.0.0.1:{microservice.metrics_port}/prometheus"], scrape_interval="1s",
                        prometheus_port=0, pushgateway_port=0, alertmanager_port=0)
        try:
            yield info
        finally:
            local.down()


def _query(info, expr):
    payload = requests.get(f"{info['prometheus_url']}/api/v1/query", params={"query": expr}, timeout=5).json()
    assert payload["status"] == "success", payload
    return payload["data"]["result"]


def _wait(info, expr, check=bool, timeout=40.0):
    deadline = time.monotonic() + timeout
    result = []
    while time.monotonic() < deadline:
        result = _query(info, expr)
        if result and check(result):
            return result
        time.sleep(0.5)
    raise AssertionError(f"{expr}: no satisfying result after {timeout}s (last: {result})")


def _send(ms, good: int, bad: int):
    frame = make_frame(5, seed=1)
    for _ in range(good):
        assert ms.post(_payload(frame))[0] == 200
    for _ in range(bad):
        assert ms.post({"jsonData": []})[0] == 400


def _value(result):
    return sum(float(r["value"][1]) for r in result)


def test_prometheus_scrapes_the_seldon_microservice(microservice, prometheus):
    _wait(prometheus, f'up{{job="{m.ENDPOINT_JOB}"}} == 1')
    # Two phases: counters only appear with their first increment, and a rate needs an increase between samples.
    _send(microservice, good=1, bad=1)
    _wait(prometheus, f'{m.MODEL_ERRORS}{{job="seldon"}}')
    _wait(prometheus, f'{m.MODEL_REQUESTS}{{job="seldon"}}')
    _send(microservice, good=3, bad=2)
    _wait(prometheus, f'{m.MODEL_ERRORS}{{job="seldon"}}', check=lambda r: _value(r) >= 3)
    _wait(prometheus, f'{m.MODEL_REQUESTS}{{job="seldon"}}', check=lambda r: _value(r) >= 4)
    latency = _wait(prometheus, f'{m.MODEL_LATENCY}_count{{job="seldon"}}', check=lambda r: _value(r) >= 4)
    assert latency[0]["metric"]["instance"] == f"127.0.0.1:{microservice.metrics_port}"

    rules = {r["alert"]: r["expr"] for g in yaml.safe_load(ALERT_RULES.read_text())["groups"] for r in g["rules"]}
    error_rate = _wait(prometheus, rules["ModelEndpointHighErrorRate"])  # 2 errors / 3 requests since phase 1
    assert _value(error_rate) > 0.05
    p99 = _query(prometheus, rules["ModelEndpointHighLatencyP99"].split(") > ")[0] + ")")
    assert p99 and 0 < _value(p99) < 30  # a real latency, within Seldon's histogram range
    assert not _query(prometheus, rules["ModelEndpointDown"])

    deadline = time.monotonic() + 20
    states = {}
    while time.monotonic() < deadline and states.get("ModelEndpointHighErrorRate") != "pending":
        alerts = requests.get(f"{prometheus['prometheus_url']}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
        states = {a["labels"]["alertname"]: a["state"] for a in alerts}
        time.sleep(0.5)
    assert states.get("ModelEndpointHighErrorRate") == "pending"  # `for: 5m` keeps it pending in a short test
