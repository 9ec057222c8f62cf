"""The endpoint profiles what it serves: window profiles from every worker, prediction ids in the response meta, a
prediction log, and labels through Seldon's feedback API (a real microservice with two gunicorn workers)."""

from __future__ import annotations


import numpy as np
import pytest

from serving import live_store
from core.whylogs_env import why  # noqa: F401  (whylogs under numpy 2, as the main environment reads profiles)
from tests.serving.conftest import wait_for
from tests.serving.model_factory import make_frame

pytestmark = pytest.mark.integration

COLUMNS = ["age", "income", "tenure_months", "balance", "job", "region"]


def _payload(frame):
    rows = [[None if (isinstance(v, float) and np.isnan(v)) else v for v in row]
            for row in frame[COLUMNS].astype(object).values.tolist()]
    return {"data": {"names": COLUMNS, "ndarray": rows}}


@pytest.fixture(scope="module")
def recording(models, microservice_factory, tmp_path_factory):
    record_dir = tmp_path_factory.mktemp("live")
    model_dir, _, _ = models["hgb_str"]
    ms = microservice_factory(model_dir, workers=2, record_dir=str(record_dir),
                              env={"SERVING_RECORD_WINDOW_SECONDS": "3", "SERVING_RECORD_WRITE_SECONDS": "1"})
    frame = make_frame(200, seed=3)
    answers = [ms.post(_payload(frame.iloc[i:i + 1])) for i in range(150)]
    answers.append(ms.post(_payload(frame.iloc[150:200])))
    return ms, record_dir, answers


def _profiled_rows(record_dir) -> int:
    names = live_store.windows(record_dir)
    view = live_store.merged_profile(record_dir, names)
    return 0 if view is None else view.get_column("age").get_metric("counts").n.value


def test_every_prediction_has_an_id_in_meta(recording):
    _, _, answers = recording
    assert all(status == 200 for status, _ in answers)
    ids = [i for _, body in answers for i in body["meta"]["tags"]["prediction_ids"]]
    assert len(ids) == 200 and len(set(ids)) == 200
    single = answers[0][1]["meta"]
    assert single["tags"]["prediction_ids"] == [single["puid"]]
    assert "metrics" not in single


def test_window_profiles_from_every_worker_merge_to_what_was_served(recording):
    _, record_dir, answers = recording
    assert wait_for(lambda: _profiled_rows(record_dir) == 200, timeout=30), _profiled_rows(record_dir)
    view = live_store.merged_profile(record_dir, live_store.windows(record_dir))
    classes = answers[0][1]["data"]["names"]
    assert set(view.get_columns()) == {*COLUMNS, "prediction", *(f"proba_{c}" for c in classes)}
    served = [c for _, body in answers for c in np.array(body["data"]["ndarray"]).argmax(axis=1)]
    items = view.get_column("prediction").get_metric("frequent_items").to_summary_dict()["frequent_strings"]
    assert {i.value: i.est for i in items} == {c: served.count(j) for j, c in enumerate(classes) if j in served}
    workers = {p.name for w in live_store.windows(record_dir) for p in (record_dir / "profiles" / w).glob("*.bin")}
    assert workers, "no profile files written"


def test_prediction_log_keeps_ids_features_and_predictions(recording):
    _, record_dir, answers = recording
    assert wait_for(lambda: len(list(live_store.prediction_records(record_dir))) == 200, timeout=30)
    records = {r["id"]: r for r in live_store.prediction_records(record_dir)}
    status, body = answers[-1]
    first = records[body["meta"]["tags"]["prediction_ids"][0]]
    assert first["scores"] == pytest.approx(body["data"]["ndarray"][0])
    assert first["prediction"] == body["data"]["names"][int(np.argmax(body["data"]["ndarray"][0]))]
    assert set(first["features"]) == set(COLUMNS)


def test_labels_through_seldon_feedback_api(recording):
    ms, record_dir, answers = recording
    _, body = answers[-1]
    truth = ["yes"] * len(body["meta"]["tags"]["prediction_ids"])
    status, reply = ms.post({"response": {"meta": body["meta"]}, "truth": {"data": {"ndarray": truth}}},
                            path="/api/v1.0/feedback")
    assert status == 200, reply
    labels = {r["id"]: r["truth"] for r in live_store.feedback_records(record_dir)}
    assert set(body["meta"]["tags"]["prediction_ids"]) <= set(labels)


@pytest.mark.parametrize("payload, status, reason", [
    ({"truth": {"data": {"ndarray": [1]}}}, 400, "feedback without prediction ids"),
    ({"response": {"meta": {"puid": "abc"}}}, 400, "feedback without truth"),
    ({"response": {"meta": {"tags": {"prediction_ids": ["a", "b"]}}}, "truth": {"data": {"ndarray": [1]}}}, 400,
     "2 prediction ids but 1 truth values"),
])
def test_bad_feedback_is_a_400_naming_the_field(recording, payload, status, reason):
    ms, _, _ = recording
    got, body = ms.post(payload, path="/api/v1.0/feedback")
    assert got == status and reason in body["status"]["info"], body


def test_feedback_route_has_the_prediction_body_checks(recording):
    ms, _, _ = recording
    assert ms.post(None, path="/api/v1.0/feedback", method="GET")[0] == 405
    got, body = ms.post(None, raw=b"[1, 2]", path="/api/v1.0/feedback")
    assert got == 400 and "expected a JSON object" in body["status"]["info"]
    got, body = ms.post(None, raw=b"{", path="/api/v1.0/feedback")
    assert got == 400 and "malformed JSON" in body["status"]["info"]
