"""Which recorded windows a live check reads, and realized metrics from labels joined by id (plain functions)."""

from __future__ import annotations

import numpy as np
import pytest

from serving import live_store
from serving.recorder import Recorder, RecorderSettings
from steps.monitoring.live import LiveTrafficError, parse_duration, select_windows, served_traffic, write_checkpoint
from steps.monitoring.realized import realized_by_window
from core.whylogs_env import why  # noqa: F401

T0 = 1_800_000_000.0  # a window boundary for 60 s windows


def _record(tmp_path, starts, classes=("0", "1")):
    recorder = Recorder(RecorderSettings(tmp_path, window_seconds=60), ["x"], list(classes))
    recorder._worker = "w"
    ids = []
    for i, t in enumerate(starts):
        recorder._pending.append((t, [f"r{i}"], {"x": [float(i)]}, np.array([[0.3, 0.7] if i % 2 else [0.8, 0.2]])))
        ids.append(f"r{i}")
    live_store.write_description(tmp_path, {"features": ["x"], "classes": list(classes), "window_seconds": 60})
    recorder.flush(final=True)
    return ids


def test_durations():
    assert parse_duration("90s") == 90 and parse_duration("15m") == 900 and parse_duration("2d") == 172800
    with pytest.raises(LiveTrafficError, match="expected a number and a unit"):
        parse_duration("an hour")


def test_checks_continue_where_the_last_one_stopped(tmp_path):
    _record(tmp_path, [T0 + 1, T0 + 61, T0 + 121])
    names, _ = select_windows(tmp_path)
    assert len(names) == 3
    write_checkpoint(tmp_path, names[:2], checked_at=T0 + 200)  # second window had closed: done
    assert select_windows(tmp_path)[0] == names[2:]
    write_checkpoint(tmp_path, names, checked_at=T0 + 150)  # third window still filling: read again next time
    assert select_windows(tmp_path)[0] == names[2:]
    write_checkpoint(tmp_path, names, checked_at=T0 + 181)
    with pytest.raises(LiveTrafficError, match="no traffic recorded in windows since the last check"):
        select_windows(tmp_path)
    assert select_windows(tmp_path, since="2m", now=T0 + 130)[0] == names[1:]


def test_served_traffic_joins_labels_and_realized_metrics_per_window(tmp_path):
    ids = _record(tmp_path, [T0 + 1, T0 + 2, T0 + 3, T0 + 61, T0 + 62])
    live_store.append_feedback(tmp_path, "api", [{"id": ids[0], "truth": 0.0}, {"id": ids[1], "truth": 0.0},
                                                 {"id": ids[3], "truth": 1}, {"id": ids[4], "truth": 0}])
    names, _ = select_windows(tmp_path)
    traffic = served_traffic(tmp_path, names, ["x"], "y", classes=[0, 1])
    assert traffic.labelled == 4 and str(traffic.batch["y"].dtype) == "Int64"
    assert list(traffic.predictions.columns) == ["prediction", "proba_0", "proba_1"]
    realized = realized_by_window(tmp_path, "binary", [0, 1])
    assert realized["labelled"].tolist() == [2, 2] and realized["served"].tolist() == [3, 2]
    # window 1: r0 predicted 0 (truth 0), r1 predicted 1 (truth 0); window 2: r3 -> 1 (1), r4 -> 0 (0)
    assert realized["accuracy"].tolist() == [0.5, 1.0]


def test_estimated_accuracy_per_window_for_a_multiclass_model(tmp_path):
    """The same fitted estimator as the decision's, per recorded window: within its band of each window's realized
    accuracy, and lower in the window whose traffic moved towards the class boundaries."""
    import pandas as pd

    from steps.monitoring.estimated import estimated_by_window, fit_performance_estimator
    from tests.monitoring.test_cbpe import _multiclass_world

    classes = ["basic", "plus", "pro"]
    holdout_scores, holdout_y = _multiclass_world(5000, 2.0, seed=1)
    holdout_predictions = pd.DataFrame({f"proba_{c}": holdout_scores[:, i] for i, c in enumerate(classes)})
    estimator = fit_performance_estimator("multiclass", pd.DataFrame({"plan": np.array(classes)[holdout_y]}),
                                          holdout_predictions, "plan", classes, ["x"])
    recorder = Recorder(RecorderSettings(tmp_path, window_seconds=60), ["x"], classes)
    recorder._worker = "w"
    realized = []
    for window, (spread, seed) in enumerate([(2.0, 2), (0.7, 3)]):
        scores, y = _multiclass_world(1500, spread, seed)
        for i, row in enumerate(scores):
            recorder._pending.append((T0 + 60 * window + 1, [f"w{window}-{i}"], {"x": [0.0]}, row[None, :]))
        realized.append(float(np.mean(scores.argmax(axis=1) == y)))
    live_store.write_description(tmp_path, {"features": ["x"], "classes": classes, "window_seconds": 60})
    recorder.flush(final=True)
    estimated = estimated_by_window(tmp_path, estimator, ["x"], "plan", classes)
    assert estimated["served"].tolist() == [1500, 1500]
    assert (estimated["accuracy_lower"] <= realized).all() and (estimated["accuracy_upper"] >= realized).all()
    assert estimated["est_accuracy"].iloc[1] < estimated["accuracy_lower"].iloc[0]
