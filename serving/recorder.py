"""The endpoint profiles what it serves: features and predictions of every request (or a sample) into whylogs
profiles per time window, plus a bounded, rotated prediction log for joining labels that arrive later.

Recording must not slow serving down, and whylogs costs ~20 ms to profile one row on its own but ~10 us per row in
a batch. So the request path only stamps ids and appends the request's columns to an in-memory buffer; a background
thread in each worker profiles the buffer in batches every FLUSH seconds into that worker's profile of the window,
writes the profile (whylogs' own serialization, so readers merge workers with whylogs' `merge`) and appends the
prediction log. Layout and readers: serving/live_store.py.

Configured by the environment the deployer sets from configs/deployment.yaml's `serving.recording` (serving stands
alone, it reads no project config; SETTING_ENV maps each setting to its variable):
  SERVING_RECORD_DIR                 where to write (empty: recording off)
  SERVING_RECORD_WINDOW_SECONDS      profile window length (default 300)
  SERVING_RECORD_SAMPLE              fraction of requests recorded, 0..1 (default 1)
  SERVING_PREDICTION_LOG_HOURS       prediction-log retention (default 168)
  SERVING_PREDICTION_LOG_MB          prediction-log size cap per worker, oldest files go first (default 256)
  SERVING_RECORD_WRITE_SECONDS       how often an open window's profile is rewritten (default 30; a closed window
                                     is written at once)
Writing a profile, not profiling, is the main cost: the serving env runs protobuf's pure-Python backend (seldon-core's
generated messages need it), whose serializer takes ~0.4 s per profile on this model, so an open window is
rewritten every WRITE seconds, not every flush.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import random
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from serving import live_store

logger = logging.getLogger(__name__)

RECORD_DIR_ENV = "SERVING_RECORD_DIR"
# RecorderSettings field -> the variable the deployer sets it in (serving.environment.microservice_command).
SETTING_ENV = {
    "window_seconds": "SERVING_RECORD_WINDOW_SECONDS",
    "sample": "SERVING_RECORD_SAMPLE",
    "log_retention_hours": "SERVING_PREDICTION_LOG_HOURS",
    "log_max_mb": "SERVING_PREDICTION_LOG_MB",
    "write_seconds": "SERVING_RECORD_WRITE_SECONDS",
}
FLUSH_SECONDS = 2.0
MAX_PENDING_ROWS = 200_000  # beyond this the buffer drops rows (counted) rather than grow without bound


@dataclass(frozen=True)
class RecorderSettings:
    directory: Path
    window_seconds: float = 300.0
    sample: float = 1.0
    log_retention_hours: float = 168.0
    log_max_mb: float = 256.0
    write_seconds: float = 5.0

    @classmethod
    def from_env(cls, env=os.environ) -> Optional["RecorderSettings"]:
        """The settings the deployer put in the environment, or None when recording is off."""
        directory = env.get(RECORD_DIR_ENV, "")
        if not directory:
            return None
        values = {}
        for key, name in SETTING_ENV.items():
            if env.get(name):
                try:
                    values[key] = float(env[name])
                except ValueError:
                    raise ValueError(f"{name}: expected a number, found {env[name]!r}") from None
        settings = cls(Path(directory), **values)
        if not 0.0 <= settings.sample <= 1.0 or settings.window_seconds <= 0:
            raise ValueError(f"recording settings out of range: sample {settings.sample} (0..1), "
                             f"window {settings.window_seconds}s (> 0)")
        return settings


class Recorder:
    """Per-worker recorder: `record()` on the request path, profiling and writing in a background thread."""

    def __init__(self, settings: RecorderSettings, feature_names: Sequence[str], classes: Optional[List[str]],
                 model_version: str = ""):
        self.settings = settings
        self.model_version = model_version  # in every prediction-log record: A/B tests split the log per variant
        self.features = list(feature_names)
        self.classes = classes
        self._lock = threading.Lock()
        self._pending: List[tuple] = []
        self._pending_rows = 0
        self.dropped_rows = 0
        self._profiles: Dict[float, Any] = {}  # window start -> this worker's DatasetProfile
        self._unwritten: Dict[float, float] = {}  # window start -> when its profile was last written
        self._pid = None  # the process the flusher runs in (gunicorn forks workers after the model is built)
        self._worker = ""

    # -- request path ---------------------------------------------------------------------------------------------
    def record(self, columns: Dict[str, List[Any]], n_rows: int, values) -> tuple:
        """(request id, one prediction id per row); the rows join the buffer if this request is sampled."""
        puid = uuid.uuid4().hex
        ids = [puid] if n_rows == 1 else [f"{puid}-{i}" for i in range(n_rows)]
        if self.settings.sample >= 1.0 or random.random() < self.settings.sample:
            if self._pid != os.getpid():
                self._start()
            with self._lock:
                if self._pending_rows + n_rows > MAX_PENDING_ROWS:
                    self.dropped_rows += n_rows
                else:
                    self._pending.append((time.time(), ids, columns, values))
                    self._pending_rows += n_rows
        return puid, ids

    def feedback(self, labels: Sequence[Dict[str, Any]]) -> None:
        """Labels from Seldon's feedback API, written at once (rare, and a lost label cannot be asked for again)."""
        live_store.append_feedback(self.settings.directory, self._worker or f"{socket.gethostname()}-{os.getpid()}",
                                   labels)

    # -- background -----------------------------------------------------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._worker = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
            self._pending, self._pending_rows, self._profiles = [], 0, {}
        live_store.write_description(self.settings.directory, {
            "features": self.features, "classes": self.classes, "window_seconds": self.settings.window_seconds})
        threading.Thread(target=self._loop, name="profile-recorder", daemon=True).start()
        atexit.register(self.flush, final=True)

    def _loop(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            try:
                self.flush()
            except Exception:  # never let recording take the worker down; say why and keep serving
                logger.exception("recording: flush failed")

    def flush(self, final: bool = False) -> None:
        """Profile the buffered rows into their windows and append the prediction log; write the profiles of
        windows that closed, and of the open one every `write_seconds` (or now, when `final`)."""
        with self._lock:
            pending, self._pending, self._pending_rows = self._pending, [], 0
        width = self.settings.window_seconds
        by_window: Dict[float, List[tuple]] = {}
        for item in pending:
            by_window.setdefault(item[0] // width * width, []).append(item)
        for start, items in sorted(by_window.items()):
            self._profile(start, items)
            self._log(start, items)
            self._unwritten.setdefault(start, time.monotonic())
        now, current = time.monotonic(), time.time() // width * width
        for start, since in sorted(self._unwritten.items()):
            if final or start < current or now - since >= self.settings.write_seconds:
                self._write(start)
                del self._unwritten[start]
        # Windows that closed a window ago are complete: their files stay, their sketches leave memory.
        for start in [s for s in self._profiles if s < current - width and s not in self._unwritten]:
            del self._profiles[start]
        if pending:
            self._enforce_retention()

    def _write(self, start: float) -> None:
        path = self.settings.directory / live_store.PROFILES / live_store.window_name(start) / f"{self._worker}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        self._profiles[start].view().write(str(tmp))
        os.replace(tmp, path)

    def _profile(self, start: float, items: List[tuple]) -> None:
        import pandas as pd
        from whylogs.core import DatasetProfile

        frame = pd.DataFrame({name: [v for item in items for v in item[2][name]] for name in self.features})
        for name, column in self._prediction_columns(items).items():
            frame[name] = column
        profile = self._profiles.get(start)
        if profile is None:
            stamp = datetime.fromtimestamp(start, tz=timezone.utc)
            profile = self._profiles[start] = DatasetProfile(dataset_timestamp=stamp)
        profile.track(pandas=frame)

    def _prediction_columns(self, items: List[tuple]) -> Dict[str, List[Any]]:
        """Columns named as batch monitoring names them: `prediction` (class label or value), `proba_<class>`."""
        import numpy as np

        values = np.concatenate([item[3] for item in items])
        if self.classes is None:
            return {live_store.PREDICTION_COLUMN: values[:, 0]}
        out = {live_store.PREDICTION_COLUMN: [self.classes[i] for i in values.argmax(axis=1)]}
        out.update({f"{live_store.PROBA_PREFIX}{c}": values[:, j] for j, c in enumerate(self.classes)})
        return out

    def _log(self, start: float, items: List[tuple]) -> None:
        lines, names = [], self.features
        for t, ids, columns, values in items:
            scores = values.tolist()
            best = values.argmax(axis=1).tolist()
            # NaN (a missing value) is written as JSON's NaN extension, which Python's json reads back.
            for pid, row, score, b in zip(ids, zip(*(columns[n] for n in names)), scores, best):
                record = {"id": pid, "t": t, "version": self.model_version, "features": dict(zip(names, row))}
                if self.classes is None:
                    record["prediction"] = score[0]
                else:
                    record["prediction"], record["scores"] = self.classes[b], score
                lines.append(json.dumps(record))
        name = f"{live_store.window_name(start)}-{self._worker}.jsonl"
        path = self.settings.directory / live_store.PREDICTIONS / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as out:
            out.write("\n".join(lines) + "\n")

    def _enforce_retention(self) -> None:
        """This worker's prediction-log files: none older than the retention, total under the size cap."""
        root = self.settings.directory / live_store.PREDICTIONS
        files = sorted(root.glob(f"*-{self._worker}.jsonl"))
        cutoff = time.time() - self.settings.log_retention_hours * 3600
        budget = self.settings.log_max_mb * 1024 * 1024
        total = 0
        for path in reversed(files):  # newest first: keep while within the budget
            size = path.stat().st_size
            total += size
            if total > budget or live_store.window_start(path.name) < cutoff:
                path.unlink(missing_ok=True)

