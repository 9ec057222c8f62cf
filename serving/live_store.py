"""Where the endpoint keeps what it served, and how the main environment reads it back.

One directory per deployment (the run-state dir locally, a volume on Kubernetes):
  profiles/<window>/<worker>.bin        whylogs profile of one worker's rows in one time window (features and
                                        predictions), rewritten as the window fills
  predictions/<window>-<worker>.jsonl   the prediction log: id, time, model version, features, prediction
                                        (bounded, rotated)
  feedback/<day>-<writer>.jsonl         labels fed back (Seldon's feedback API or `run.py feedback`)
  recording.json                        what is recorded: features, classes in output order, window length
Windows are named by their UTC start (`20260102T101500Z`), so names sort in time order. Every worker writes its own
files, so nothing is shared between processes; readers merge the workers' profiles with whylogs' own `merge`.
Imported by the serving environment and the main environment alike: numpy, pandas and whylogs only (the main
environment reads profiles after `core.whylogs_env`, which makes whylogs import under numpy 2).
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

os.environ.setdefault("WHYLOGS_NO_ANALYTICS", "1")

PROFILES = "profiles"
PREDICTIONS = "predictions"
FEEDBACK = "feedback"
DESCRIPTION = "recording.json"
WINDOW_FORMAT = "%Y%m%dT%H%M%SZ"
PREDICTION_COLUMN = "prediction"  # the column name batch monitoring gives the predicted class / value
PROBA_PREFIX = "proba_"


def window_name(start: float) -> str:
    return datetime.fromtimestamp(start, tz=timezone.utc).strftime(WINDOW_FORMAT)


def window_start(name: str) -> float:
    return datetime.strptime(name[: len("20260102T101500Z")], WINDOW_FORMAT).replace(tzinfo=timezone.utc).timestamp()


def write_atomic(path: Path, data: bytes) -> None:
    """Readers never see half a file: write beside it, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def windows(directory: Path, since: Optional[float] = None, until: Optional[float] = None) -> List[str]:
    """Names of the windows with profiles, oldest first; `since`/`until` are epoch seconds (window starts)."""
    root = Path(directory) / PROFILES
    if not root.is_dir():
        return []
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    return [n for n in names
            if (since is None or window_start(n) >= since) and (until is None or window_start(n) < until)]


def window_profile(directory: Path, name: str):
    """The merged whylogs profile view of one window (every worker's file), or None if it has none yet."""
    from whylogs.core import DatasetProfileView

    merged = None
    for path in sorted((Path(directory) / PROFILES / name).glob("*.bin")):
        view = DatasetProfileView.read(str(path))
        merged = view if merged is None else merged.merge(view)
    return merged


def merged_profile(directory: Path, names: Sequence[str]):
    """One profile view for several windows (whylogs sketches merge exactly)."""
    merged = None
    for name in names:
        view = window_profile(directory, name)
        if view is not None:
            merged = view if merged is None else merged.merge(view)
    return merged


def read_jsonl(paths: Sequence[Path]) -> Iterator[Dict[str, Any]]:
    """Records of JSON-lines files; a line cut short by a crash is skipped, never fatal."""
    for path in paths:
        try:
            lines = path.read_text().splitlines()
        except FileNotFoundError:  # rotated away meanwhile
            continue
        for line in lines:
            try:
                yield json.loads(line)
            except ValueError:
                continue


def prediction_records(directory: Path, names: Optional[Sequence[str]] = None) -> Iterator[Dict[str, Any]]:
    """Prediction-log records, of the windows `names` only when given."""
    paths = sorted((Path(directory) / PREDICTIONS).glob("*.jsonl"))
    if names is not None:
        wanted = set(names)
        paths = [p for p in paths if p.name[: len("20260102T101500Z")] in wanted]
    return read_jsonl(paths)


def write_description(directory: Path, description: Dict[str, Any]) -> None:
    """What the endpoint records (features, classes in output order, window length), for readers."""
    write_atomic(Path(directory) / DESCRIPTION, json.dumps(description).encode())


def read_description(directory: Path) -> Dict[str, Any]:
    path = Path(directory) / DESCRIPTION
    return json.loads(path.read_text()) if path.is_file() else {}


def feedback_records(directory: Path) -> Iterator[Dict[str, Any]]:
    return read_jsonl(sorted((Path(directory) / FEEDBACK).glob("*.jsonl")))


def append_feedback(directory: Path, writer: str, labels: Sequence[Dict[str, Any]]) -> Path:
    """Append label records ({'id': prediction id, 'truth': value}) to today's feedback file of `writer`."""
    now = time.time()
    path = Path(directory) / FEEDBACK / f"{window_name(now)[:8]}-{writer}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as out:
        out.write("".join(json.dumps({"id": str(r["id"]), "truth": r["truth"], "t": now}) + "\n" for r in labels))
    return path
