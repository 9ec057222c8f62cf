"""Live traffic as monitoring input: which windows to check, the merged window profile, and the served rows with
their predictions and any labels fed back (joined by prediction id). Plain functions; the files are written by the
endpoint (serving/recorder.py) and laid out by serving/live_store.py."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from serving import live_store

CHECKPOINT = "last-check.json"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class LiveTrafficError(RuntimeError):
    """Nothing (or nothing usable) was recorded for the windows asked for."""


def parse_duration(text: str) -> float:
    """'90s', '15m', '1h', '2d' -> seconds."""
    match = _DURATION.match(text or "")
    if not match:
        raise LiveTrafficError(f"duration {text!r}: expected a number and a unit s, m, h or d (e.g. 15m, 1h, 2d)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def live_dir_of(info: Any) -> Path:
    """The record directory of a deployment (a DeploymentInfo from the stack's deployer)."""
    directory = (info.details or {}).get("live_dir") if info is not None else None
    if not directory:
        backend = (info.details or {}).get("backend", "this backend") if info is not None else "no deployment"
        raise LiveTrafficError(f"deployment '{getattr(info, 'name', '?')}' does not record its traffic ({backend}); "
                               "live monitoring needs an endpoint that records: on the local stack, or on kubernetes with the "
                               "model deployer's recording_claim set (stacks/kubernetes.yaml) and serving.recording "
                               "enabled in configs/deployment.yaml; then deploy again")
    return Path(directory)


def checkpoint_path(directory: Path) -> Path:
    """Where a check remembers how far it got, by default: next to the windows (the local stack)."""
    return Path(directory) / CHECKPOINT


def read_checkpoint(directory: Path) -> Dict[str, Any]:
    path = checkpoint_path(directory)
    return json.loads(path.read_text()) if path.is_file() else {}


def checkpoint_after(directory: Path, windows: Sequence[str], checked_at: float) -> Dict[str, Any]:
    """What a successful check of `windows` leaves for the next one: the newest window checked and whether it had
    closed before the check read it. A closed window is done, one still filling is checked again next time (so no
    row goes unchecked)."""
    width = live_store.read_description(directory).get("window_seconds")
    closed = bool(width) and live_store.window_start(windows[-1]) + float(width) <= checked_at
    return {"checked_until": windows[-1], "closed": closed, "checked_at": checked_at}


def write_checkpoint(directory: Path, windows: Sequence[str], checked_at: float) -> None:
    """`checkpoint_after` written next to the windows (the checkpoint of the local stack)."""
    live_store.write_atomic(checkpoint_path(directory),
                            json.dumps(checkpoint_after(directory, windows, checked_at)).encode())


def select_windows(directory: Path, since: Optional[str] = None, now: Optional[float] = None,
                   last: Optional[Dict[str, Any]] = None) -> Tuple[List[str], str]:
    """(window names, what they cover): windows in the last `since`, else windows since the last check (`last`, a
    checkpoint; by default the one next to the windows), else all."""
    directory = Path(directory)
    if since:
        start = (now or time.time()) - parse_duration(since)
        names, covered = live_store.windows(directory, since=start // 1), f"the last {since}"
    else:
        last = read_checkpoint(directory) if last is None else last
        names = live_store.windows(directory)
        if last:
            newest = last["checked_until"]
            names = [n for n in names if n > newest or (n == newest and not last.get("closed"))]
        covered = f"windows since the last check ({last['checked_until']})" if last else "every recorded window"
    if not names:
        raise LiveTrafficError(f"no traffic recorded in {covered} under {directory}: send requests to the endpoint "
                               "(an open window's profile is rewritten every serving.recording.write_seconds, 5 s by default, "
                               "and when it closes) or widen --since")
    return names, covered


@dataclass
class LiveTraffic:
    """Served rows (features, plus the target where labels came back) and their predictions, aligned by row."""

    batch: pd.DataFrame
    predictions: pd.DataFrame
    labelled: int


def as_label(value: Any, classes: Sequence[Any]) -> Any:
    """A fed-back label in the type of the schema's classes (JSON numbers may arrive as 1.0 for class 1)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    by_text = {str(c): c for c in classes}
    return by_text.get(str(value), value)


def typed_labels(values: Sequence[Any], classes: Sequence[Any] = ()) -> pd.Series:
    """Labels with gaps, typed so that the labelled subset is what sklearn expects (int classes stay int)."""
    series = pd.Series(list(values), dtype=object)
    if not classes:
        return series.astype(float)
    if all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in classes):
        return series.astype("Int64")
    return series


def labels_by_id(directory: Path, classes: Sequence[Any] = ()) -> Dict[str, Any]:
    """Prediction id -> label; a later label for the same id replaces an earlier one."""
    out = {}
    for record in live_store.feedback_records(directory):
        out[str(record["id"])] = as_label(record["truth"], classes) if classes else record["truth"]
    return out


def served_traffic(directory: Path, windows: Sequence[str], features: Sequence[str], target: str,
                   classes: Sequence[Any] = ()) -> LiveTraffic:
    """The prediction-log rows of `windows`, as a batch (target filled from fed-back labels) and predictions."""
    records = list(live_store.prediction_records(directory, windows))
    if not records:
        raise LiveTrafficError(f"the prediction log under {directory} holds no rows of the {len(windows)} window(s) "
                               "checked (rotated away? see SERVING_PREDICTION_LOG_HOURS / _MB)")
    labels = labels_by_id(directory, classes)
    batch = pd.DataFrame([r["features"] for r in records], columns=list(features))
    if any(r["id"] in labels for r in records):  # else no target column at all: nothing labelled yet
        batch[target] = typed_labels([labels.get(r["id"]) for r in records], classes)
    predictions = pd.DataFrame({"prediction": pd.Series([r["prediction"] for r in records], dtype=object)})
    served_classes = live_store.read_description(directory).get("classes")
    if served_classes and "scores" in records[0]:
        predictions["prediction"] = predictions["prediction"].astype(str)
        scores = np.array([r["scores"] for r in records], dtype=float)
        for i, name in enumerate(served_classes):
            predictions[f"{live_store.PROBA_PREFIX}{name}"] = scores[:, i]
    else:
        predictions["prediction"] = predictions["prediction"].astype(float)
    return LiveTraffic(batch, predictions, int(batch[target].notna().sum()) if target in batch else 0)
