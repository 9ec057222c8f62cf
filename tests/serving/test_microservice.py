"""The model class in a real `seldon-core-microservice` process: parity, bad input, metadata, health, metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest

from serving.request_guard import MAX_PAYLOAD_BYTES
from tests.serving.conftest import post_chunked, run_in_serving_env, wait_for
from tests.serving.model_factory import make_frame

pytestmark = pytest.mark.integration

COLUMNS = ["age", "income", "tenure_months", "balance", "job", "region"]


def _ndarray_payload(frame):
    rows = [[None if (isinstance(v, float) and np.isnan(v)) else v for v in row]
            for row in frame[COLUMNS].values.tolist()]
    return {"data": {"names": COLUMNS, "ndarray": rows}}


@pytest.fixture(scope="module")
def hgb(models, microservice_factory):
    model_dir, model, _ = models["hgb_str"]
    return microservice_factory(model_dir, workers=2), model


@pytest.mark.parametrize("name", ["hgb_str", "logreg_int", "rf_str", "ridge", "hgb_calibrated"])
def test_endpoint_matches_offline_predictions(name, models, microservice_factory):
    model_dir, model, _ = models[name]
    ms = microservice_factory(model_dir)
    frame = make_frame(300, seed=7)
    frame.loc[3, "income"] = np.nan  # missing values are imputed identically on both paths
    frame.loc[4, "job"] = "astronaut"  # unknown category: one-hot encoder ignores it on both paths
    status, body = ms.post(_ndarray_payload(frame))
    assert status == 200, body
    got = np.array(body["data"]["ndarray"])
    if hasattr(model, "predict_proba"):
        assert body["data"]["names"] == [str(c) for c in model.classes_]
        expected = model.predict_proba(frame)
    else:
        assert body["data"]["names"] == ["prediction"]
        expected = model.predict(frame).reshape(-1, 1)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    # jsonData records give the same answer as ndarray rows
    records = [dict(zip(COLUMNS, row)) for row in _ndarray_payload(frame.head(5))["data"]["ndarray"]]
    status, body = ms.post({"jsonData": records})
    assert status == 200, body
    np.testing.assert_allclose(np.array(body["data"]["ndarray"]), expected[:5], rtol=1e-9, atol=1e-12)
    assert body["meta"]["tags"] == {"model_name": "test-model", "model_version": "1"}
    assert "metrics" not in body["meta"], "custom metrics must not leak into client responses"


ROW = [42, 50000.0, 12, 100.0, "admin", "north"]


@pytest.mark.parametrize(
    "payload, raw, content_type, reason",
    [
        ({"data": {"names": COLUMNS, "ndarray": [ROW[:5]]}}, None, None,
         "wrong feature count in row 0: 5 values, expected 6"),
        ({"data": {"ndarray": [ROW + [1]]}}, None, None, "7 values, expected 6"),
        ({"data": {"names": COLUMNS[:5] + ["colour"], "ndarray": [ROW]}}, None, None,
         "unknown feature names: 'colour'"),
        ({"jsonData": {k: v for k, v in zip(COLUMNS[:5], ROW)}}, None, None, "missing feature names: 'region'"),
        ({"data": {"names": COLUMNS, "ndarray": [ROW, [42, "lots", 12, 100.0, "admin", "north"]]}}, None, None,
         "column 'income': expected double, found str in 1 of 2 rows"),
        ({"jsonData": dict(zip(COLUMNS, [True, 1.0, 1, 1.0, "admin", "north"]))}, None, None,
         "column 'age': expected double, found bool"),  # training declares integer features double
        ({"jsonData": dict(zip(COLUMNS, [1, 1.0, 1, 1.0, 7, "north"]))}, None, None,
         "column 'job': expected string, found int"),
        ({}, None, None, "empty payload"),
        ({"data": {"names": COLUMNS, "ndarray": []}}, None, None, "empty payload: data.ndarray has no rows"),
        ({"jsonData": []}, None, None, "empty payload: jsonData has no records"),
        (None, b"", None, "empty payload: the request body is empty"),
        (None, b'{"data": {"ndarray": [[1, 2,', None, "malformed JSON: Expecting value"),
        ({"strData": "hello"}, None, None, "unsupported payload ('strData')"),
        (None, b"age=1", "text/plain", "unsupported Content-Type 'text/plain'"),
        # once answered 500: the decoder's recursion limit, and an integer no float can hold
        (None, b"[" * 1000 + b"]" * 1000, None, "malformed JSON: nested too deeply"),
        (None, b'{"jsonData": {"age": 1' + b"0" * 400 + b', "income": 1.0, "tenure_months": 1, "balance": 1.0, '
               b'"job": "admin", "region": "north"}}', None,
         "column 'age': expected a finite number, found an integer"),
        (None, b'{"jsonData": {"age": 1, "income": 1' + b"0" * 5000 + b'}}', None, "malformed JSON: Exceeds the limit"),
        ({"data": {"names": [f"f{i}" for i in range(200_000)], "ndarray": [[1]]}}, None, None,
         "too many feature names: 200000, the model expects 6"),
        ({"jsonData": {f"f{i}": 1 for i in range(100_000)}}, None, None, "too many feature names: 100000"),
        (None, b'{"jsonData": "\xff\xfe"}', None, "malformed JSON"),
        (None, b"\xff\xfe\x00{", None, "malformed JSON"),
        ([ROW], None, None, "expected a JSON object, found list"),
        (None, b"null", None, "expected a JSON object, found NoneType"),
        (None, b'--b\r\nContent-Disposition: form-data; name="json"\r\n\r\n{}\r\n--b--\r\n',
         "multipart/form-data; boundary=b", "unsupported Content-Type"),
        (None, b"json=%7B%7D", "application/x-www-form-urlencoded", "unsupported Content-Type"),
    ],
    ids=["short-row", "long-row-positional", "unknown-name", "missing-name", "string-in-numeric", "bool-in-numeric",
         "int-in-string", "empty-object", "no-rows", "no-records", "empty-body", "malformed-json",
         "unsupported-kind", "wrong-content-type", "deep-nesting", "huge-integer", "integer-digit-limit",
         "too-many-names", "too-many-record-keys", "bad-utf8-in-string", "bad-utf8", "top-level-array", "null",
         "multipart", "form-encoded"],
)
def test_bad_input_is_a_400_naming_the_problem(hgb, payload, raw, content_type, reason):
    ms, _ = hgb
    status, body = ms.post(payload, raw=raw, content_type=content_type or "application/json")
    assert status == 400, body
    assert body["status"]["reason"] == "MICROSERVICE_BAD_DATA"
    assert reason in body["status"]["info"]


def test_oversized_bodies_are_413_with_or_without_a_content_length(hgb):
    ms, _ = hgb
    status, body = ms.post(None, raw=b" " * (MAX_PAYLOAD_BYTES + 1))
    assert status == 413 and f"the limit is {MAX_PAYLOAD_BYTES} bytes" in body["status"]["info"]
    # chunked: no Content-Length, so the app must stop reading at the limit itself
    status, body = post_chunked(ms.url + "/api/v1.0/predictions", [b" " * (1 << 20)] * 17)
    assert status == 413 and "payload too large" in body["status"]["info"]
    # a chunked body within the limit is served like any other
    payload = json.dumps({"data": {"names": COLUMNS, "ndarray": [ROW]}}).encode()
    status, body = post_chunked(ms.url + "/api/v1.0/predictions", [payload[:10], payload[10:]])
    assert status == 200 and len(body["data"]["ndarray"]) == 1
    assert ms.get("/health/ping")[0] == 200


@pytest.mark.parametrize("path, method, status, reason", [
    ("/api/v1.0/predictions", "GET", 405, "send predictions with POST"),
    ("/predict?json=%7B%7D", "GET", 405, "send predictions with POST"),
    ("/api/v1.0/predictions?json=%7B%7D", "POST", 400, "the 'json' query parameter is not accepted"),
    ("/api/v1.0/feedback", "POST", 404, "not served by this model"),
    ("/transform-input", "POST", 404, "not served by this model"),
    ("/aggregate", "POST", 404, "not served by this model"),
    ("/no/such/route", "GET", 404, "Not Found"),
    ("/health/ping", "DELETE", 405, "Method Not Allowed"),
])
def test_wrong_routes_and_methods_keep_their_4xx(hgb, path, method, status, reason):
    """Seldon's catch-all handler used to turn every werkzeug 404/405 into a 500."""
    ms, _ = hgb
    got, body = ms.post({"jsonData": [[1] * 2000]}, path=path, method=method)
    assert got == status, body
    assert reason in body["status"]["info"]


def test_infinite_values_are_rejected_not_a_500(hgb):
    ms, _ = hgb
    status, body = ms.post(None, raw=b'{"jsonData": {"age": 1, "income": Infinity, "tenure_months": 1, '
                                    b'"balance": 1, "job": "admin", "region": "north"}}')
    assert status == 400 and "expected a finite number" in body["status"]["info"]


def test_metadata_names_model_schema_and_lineage(hgb):
    ms, _ = hgb
    status, raw = ms.get("/api/v1.0/metadata")
    assert status == 200
    meta = json.loads(raw)
    assert meta["name"] == "test-model" and meta["versions"] == ["1"]
    assert meta["inputs"][0]["schema"]["names"] == COLUMNS
    assert meta["inputs"][1]["schema"]["properties"]["job"]["type"] == ["string", "null"]
    assert meta["outputs"][0]["schema"]["shape"] == [-1, 3]
    assert meta["custom"]["mlflow_run_id"] == "run-123"
    assert meta["custom"]["data_fingerprint"] == "fp-abc"
    assert meta["custom"]["git_commit"] == "deadbeef"
    assert json.loads(meta["custom"]["input_types"])["income"] == "double"


def test_custom_metrics_are_scraped_from_prometheus(hgb):
    ms, _ = hgb
    frame = make_frame(10, seed=3)
    for _ in range(3):
        assert ms.post(_ndarray_payload(frame))[0] == 200
    assert ms.post({"jsonData": []})[0] == 400
    assert ms.post(None, raw=b"{not json")[0] == 400  # rejected before the model sees it, counted all the same

    def scrape():
        status, body = ms.get("/prometheus", port=ms.metrics_port)
        assert status == 200
        return body.decode()

    def total(text, name, **labels):
        value = 0.0
        for line in text.splitlines():
            if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
                value += float(line.rsplit(" ", 1)[1])
        return value

    text = wait_for(lambda: (t := scrape()) and total(t, "model_rows_total") >= 30
                    and total(t, "model_request_errors_total") >= 2 and t)
    assert total(text, "model_requests_total", deployment_name="test-model") >= 3
    assert total(text, "model_rows_total") >= 30
    assert total(text, "model_request_errors_total", reason="bad_data") >= 1
    assert total(text, "model_request_errors_total", reason="malformed_json") >= 1
    assert total(text, "model_predict_latency_seconds_count") >= 3
    assert sum(total(text, "model_predicted_class_total", **{"class": c}) for c in ("low", "mid", "high")) >= 30


def test_health_is_503_until_the_model_is_loaded(serving_python, models):
    model_dir = models["logreg_int"][0]
    out = run_in_serving_env(serving_python, f"""
import json
from seldon_core.metrics import SeldonMetrics
from seldon_core.wrapper import get_rest_microservice
from serving.model import SeldonModel
model = SeldonModel(model_uri={str(model_dir)!r}, model_name="m", model_version="7")
client = get_rest_microservice(model, SeldonMetrics()).test_client()
before = client.get("/health/status")
early = client.post("/api/v1.0/predictions", json={{"jsonData": []}})
model.load()
after = client.get("/health/status")
print(json.dumps([before.status_code, before.get_json(), early.status_code, after.status_code, after.get_json()]))
""")
    before_code, before_body, early_code, after_code, after_body = json.loads(out.strip().splitlines()[-1])
    assert before_code == 503 and before_body["status"]["reason"] == "MICROSERVICE_NOT_READY"
    assert early_code == 503
    assert after_code == 200 and after_body["jsonData"]["model_version"] == "7"


def test_a_preloaded_model_is_what_a_forked_worker_serves(serving_python, models):
    """A warm standby preloads the model before it forks its workers; a worker's load() checks that estimator
    instead of reading the model file again (which would cost the standby its head start)."""
    model_dir = models["logreg_int"][0]
    out = run_in_serving_env(serving_python, f"""
import json, os
from serving import artifact
from serving.model import SeldonModel
SeldonModel.preload(model_uri={str(model_dir)!r}, model_name="m", model_version="7")
def not_again(self):
    raise AssertionError("the model file was read again")
artifact.ModelArtifact.load_estimator = not_again
pid = os.fork()
if pid == 0:  # as gunicorn forks a worker
    worker = SeldonModel(model_uri={str(model_dir)!r}, model_name="m", model_version="7")
    worker.load()
    print(json.dumps({{"health": worker.health_status()["status"]}}), flush=True)
    os._exit(0)
_, status = os.waitpid(pid, 0)
print(json.dumps({{"worker_exit": os.waitstatus_to_exitcode(status)}}))
""")
    lines = [json.loads(line) for line in out.strip().splitlines() if line.startswith("{")]
    assert {"health": "ok"} in lines and {"worker_exit": 0} in lines, out


def test_untrusted_types_are_refused(serving_python, tmp_path):
    """A model holding a type outside the allowlist (numpy.load in a FunctionTransformer) is refused at load."""
    from tests.serving.model_factory import malicious_model_dir

    model_dir = malicious_model_dir(tmp_path / "m")
    out = run_in_serving_env(serving_python, f"""
from serving.model import SeldonModel
from serving.artifact import ModelArtifactError
model = SeldonModel(model_uri={str(model_dir)!r})
try:
    model.load()
except ModelArtifactError as exc:
    print("REFUSED", exc)
""")
    assert "REFUSED" in out and "outside the serving allowlist: numpy.load" in out


def test_every_model_the_training_factory_builds_serves_its_own_predictions(serving_python, tmp_path):
    """Parity for every estimator and task of steps/training/model_factory.py, through Seldon's real Flask app
    in the serving environment (the live-daemon parity above covers the gunicorn path for four of them)."""
    from tests.serving.model_factory import save_model, fit_model, supported_combinations

    frame = make_frame(60, seed=5)
    frame.loc[1, "income"] = np.nan
    frame.loc[2, "job"] = "astronaut"
    payload = _ndarray_payload(frame)
    expected = {}
    for estimator, task in supported_combinations():
        model, X, _ = fit_model(estimator, task, labels="int" if task == "binary" else "str")
        save_model(model, X, task, tmp_path / f"{estimator}-{task}")
        expected[f"{estimator}-{task}"] = (
            model.predict(frame).reshape(-1, 1) if task == "regression" else model.predict_proba(frame),
            ["prediction"] if task == "regression" else [str(c) for c in model.classes_],
        )
    out = run_in_serving_env(serving_python, f"""
import json
from seldon_core.metrics import SeldonMetrics
from seldon_core.wrapper import get_rest_microservice
from serving.model import SeldonModel
results = {{}}
for name in {sorted(expected)!r}:
    model = SeldonModel(model_uri={str(tmp_path)!r} + "/" + name, model_name=name, model_version="1")
    model.load()
    client = get_rest_microservice(model, SeldonMetrics()).test_client()
    response = client.post("/api/v1.0/predictions", json={payload!r})
    results[name] = [response.status_code, response.get_json()]
print(json.dumps(results))
""", timeout=300)
    results = json.loads(out.strip().splitlines()[-1])
    assert sorted(results) == sorted(expected)
    for name, (status, body) in results.items():
        assert status == 200, (name, body)
        values, names = expected[name]
        assert body["data"]["names"] == names, name
        np.testing.assert_allclose(np.array(body["data"]["ndarray"]), values, rtol=1e-9, atol=1e-12, err_msg=name)
