"""The recorder and the feedback parser as plain objects (no server): windows, ids, retention, bad settings."""

from __future__ import annotations

import json

import numpy as np
import pytest

from serving import live_store
from serving.feedback import parse_feedback
from serving.recorder import Recorder, RecorderSettings
from serving.schema import BadInput
from core.whylogs_env import why  # noqa: F401  (whylogs under numpy 2 in the main environment)

FEATURES = ["age", "job"]


def _recorder(tmp_path, **settings) -> Recorder:
    return Recorder(RecorderSettings(tmp_path, **settings), FEATURES, ["no", "yes"])


def test_rows_land_in_their_window_profile_and_the_prediction_log(tmp_path):
    recorder = _recorder(tmp_path, window_seconds=60)
    puid, ids = recorder.record({"age": [30, 40, float("nan")], "job": ["a", "b", "a"]}, 3,
                                np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]))
    assert ids == [f"{puid}-{i}" for i in range(3)]
    recorder.flush(final=True)
    [window] = live_store.windows(tmp_path)
    view = live_store.window_profile(tmp_path, window)
    assert view.get_column("age").get_metric("counts").n.value == 3
    assert view.get_column("age").get_metric("counts").null.value == 1
    records = list(live_store.prediction_records(tmp_path, [window]))
    assert [r["prediction"] for r in records] == ["no", "yes", "no"]
    assert records[1]["features"] == {"age": 40, "job": "b"} and records[1]["scores"] == [0.2, 0.8]
    assert live_store.read_description(tmp_path)["classes"] == ["no", "yes"]


def test_sample_zero_records_nothing_but_still_returns_ids(tmp_path):
    recorder = _recorder(tmp_path, sample=0.0)
    _, ids = recorder.record({"age": [1], "job": ["a"]}, 1, np.array([[0.5, 0.5]]))
    recorder.flush(final=True)
    assert len(ids) == 1 and live_store.windows(tmp_path) == []


def test_prediction_log_keeps_within_its_size_cap_and_retention(tmp_path):
    import time

    recorder = _recorder(tmp_path, window_seconds=1, log_max_mb=0.002, log_retention_hours=1)  # ~2 kB, 1 h
    now = float(int(time.time()))
    for t in [now - 7200, *(now - 10 + s for s in range(5))]:  # one row two hours old, five recent ones
        recorder._pending.append((t, [f"id{t}"], {"age": [1], "job": ["x" * 600]}, np.array([[0.5, 0.5]])))
    recorder._worker = "w"
    recorder.flush(final=True)
    files = sorted((tmp_path / live_store.PREDICTIONS).glob("*.jsonl"))
    assert 1 <= len(files) < 5 and sum(f.stat().st_size for f in files) <= 2 * 1024
    assert files[-1].name.startswith(live_store.window_name(now - 6)), "the newest file is kept"
    assert not any(f.name.startswith(live_store.window_name(now - 7200)) for f in files), "older than retention"


@pytest.mark.parametrize("env, message", [
    ({"SERVING_RECORD_DIR": "/x", "SERVING_RECORD_SAMPLE": "lots"}, "SERVING_RECORD_SAMPLE: expected a number"),
    ({"SERVING_RECORD_DIR": "/x", "SERVING_RECORD_SAMPLE": "2"}, "sample 2.0 (0..1)"),
])
def test_bad_recording_settings_name_the_variable(env, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        RecorderSettings.from_env(env)


def test_recording_is_off_without_a_directory():
    assert RecorderSettings.from_env({}) is None


def test_feedback_pairs_ids_with_truth_and_names_what_is_missing():
    meta = {"tags": {"prediction_ids": ["a", "b"]}}
    assert parse_feedback({"response": {"meta": meta}, "truth": {"data": {"ndarray": [[1], [0]]}}}) == [
        {"id": "a", "truth": 1}, {"id": "b", "truth": 0}]
    assert parse_feedback({"response": {"meta": {"puid": "p"}}, "truth": {"data": {"ndarray": ["yes"]}}}) == [
        {"id": "p", "truth": "yes"}]
    with pytest.raises(BadInput, match="truth values must be labels"):
        parse_feedback({"response": {"meta": meta}, "truth": {"data": {"ndarray": [{"x": 1}, 0]}}})


def test_append_feedback_then_read_back(tmp_path):
    live_store.append_feedback(tmp_path, "w", [{"id": "a", "truth": 1}])
    (tmp_path / live_store.FEEDBACK / "broken.jsonl").write_text('{"id": "b", "tr')  # a crash mid-line
    assert [(r["id"], r["truth"]) for r in live_store.feedback_records(tmp_path)] == [("a", 1)]
    assert json.loads(next((tmp_path / live_store.FEEDBACK).glob("*-w.jsonl")).read_text())["id"] == "a"
