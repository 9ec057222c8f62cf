"""The local backend's deployment registry: one JSON file under the state dir, read-modify-written under a lock.

Separate CLI invocations (deploy now, list or stop later) all see the same deployments through it. Every write goes
to a temporary file that is flushed to disk and renamed over the old one (then the folder is synced), so a crash or
power loss leaves either the old or the new registry, never a torn one; the previous version is kept as
`registry.json.bak` for the rare case the file is damaged anyway (disk fault, hand edit).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any, Dict, Iterator

from stacks.seldon.spec import DeploymentError


class RegistryFileError(DeploymentError):
    """registry.json cannot be read as a deployment registry."""


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
            previous = self.path.read_bytes() if self.path.is_file() else None
            data = self._parse(previous)
            yield data
            if previous is not None:
                _write_durably(self.root / "registry.json.bak", previous)
            _write_durably(self.path, json.dumps(data, indent=2, sort_keys=True).encode())

    @contextlib.contextmanager
    def deployment_lock(self, name: str, timeout: float = 600.0) -> Iterator[None]:
        """Serialise deploy/stop of one deployment across processes (a second deploy waits for the first)."""
        with self._flock(self.root / f"deploy-{name}.lock", timeout):
            yield

    def _load(self) -> Dict[str, Any]:
        return self._parse(self.path.read_bytes() if self.path.is_file() else None)

    def _parse(self, raw: "bytes | None") -> Dict[str, Any]:
        if raw is None:
            return {"ingress": {}, "deployments": {}}
        try:
            data = json.loads(raw)
            if not isinstance(data, dict) or not all(isinstance(data.get(k, {}), dict)
                                                     for k in ("ingress", "deployments")):
                raise ValueError("expected an object with 'ingress' and 'deployments' objects")
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            backup = self.root / "registry.json.bak"
            recover = (f"restore the copy from before the last update: `cp {backup} {self.path}`"
                       if backup.is_file() else
                       f"move it aside (`mv {self.path} {self.path}.damaged`): the local deployments are then "
                       "forgotten; stop their daemons by hand (`pgrep -af serving.launch`) and deploy again")
            raise RegistryFileError(
                f"the local deployment registry {self.path} is damaged ({exc}); {recover}") from None
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


def _write_durably(path: Path, content: bytes) -> None:
    """Write temp + fsync + rename + fsync of the folder: after return the new content survives a crash."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
