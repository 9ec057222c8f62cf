"""The local backend's deployment registry: one JSON file under the state dir, read-modify-written under a lock.

Separate CLI invocations (deploy now, list or stop later) all see the same deployments through it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any, Dict, Iterator


class Registry:
    """`{"ingress": {...}, "deployments": {name: {...}}}` persisted at `<root>/registry.json`."""

    def __init__(self, root: Path):
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.path = root / "registry.json"
        self._lock_path = root / "registry.lock"

    def read(self) -> Dict[str, Any]:
        """A snapshot (no lock held afterwards)."""
        with self._locked():
            return self._load()

    @contextlib.contextmanager
    def update(self) -> Iterator[Dict[str, Any]]:
        """Yield the registry for editing; written back atomically when the block exits without error."""
        with self._locked():
            data = self._load()
            yield data
            tmp = self.path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
            os.replace(tmp, self.path)

    @contextlib.contextmanager
    def deployment_lock(self, name: str, timeout: float = 600.0) -> Iterator[None]:
        """Serialise deploy/stop of one deployment across processes (a second deploy waits for the first)."""
        with self._flock(self.root / f"deploy-{name}.lock", timeout):
            yield

    def _load(self) -> Dict[str, Any]:
        data = json.loads(self.path.read_text()) if self.path.is_file() else {}
        data.setdefault("ingress", {})
        data.setdefault("deployments", {})
        return data

    def _locked(self):
        return self._flock(self._lock_path, 30.0)

    @staticmethod
    @contextlib.contextmanager
    def _flock(path: Path, timeout: float) -> Iterator[None]:
        with open(path, "a+") as handle:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"waited {timeout:.0f}s for lock {path}") from None
                    time.sleep(0.1)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
