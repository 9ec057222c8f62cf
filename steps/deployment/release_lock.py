"""One release at a time per model: gate -> deploy -> promote, and rollback, hold the model's release lock.

A file lock (flock) under the run-state directory, keyed by model name. The kernel drops it when its holder dies,
even by kill -9, so a crashed deploy never leaves a stale lock. It serializes the processes that share one
run-state directory, i.e. one machine (or one shared POSIX filesystem): on the server and Kubernetes stacks two
operators on different machines are not serialized by it (docs/reliability.md, "Deploy faults").
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import re
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, Optional, Tuple

from steps.deployment.registry import RegistryError

WAIT_SECONDS = 1800.0  # how long a release waits for another one of the same model before giving up
_REPORT_EVERY = 30.0

# (lock path, thread) -> depth: a release may run inside another in the same thread (e.g. retrain -> deploy);
# other threads and processes wait.
_held: Dict[Tuple[str, int], int] = {}
_held_guard = threading.Lock()


class ReleaseLockTimeout(RegistryError):  # a RegistryError: the CLI reports it in one line, like the others
    """Another release of the same model held the lock for longer than the wait allowed."""


def lock_path(model_name: str) -> Path:
    from core.state import state_dir

    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", model_name)[:100] or "_"
    folder = state_dir() / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"release-{slug}.lock"


def holder(model_name: str) -> Optional[Dict[str, object]]:
    """Who holds (or last held) the release lock of `model_name`, as written by the holder; None if never taken."""
    try:
        return json.loads(lock_path(model_name).read_text() or "null")
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def release_lock(model_name: str, action: str, wait: Optional[float] = None,
                 say: Callable[[str], None] = print) -> Iterator[None]:
    """Holds the release lock of `model_name` for the block; waits (up to `wait` s, default WAIT_SECONDS) for another
    holder, reporting who it is."""
    wait = WAIT_SECONDS if wait is None else wait
    path = lock_path(model_name)
    key = (str(path), threading.get_ident())
    with _held_guard:
        if _held.get(key):
            _held[key] += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield
        finally:
            with _held_guard:
                _held[key] -= 1
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _acquire(fd, model_name, wait, say)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({
            "pid": os.getpid(), "host": socket.gethostname(), "action": action, "command": " ".join(sys.argv),
            "since": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }).encode(), 0)
        with _held_guard:
            _held[key] = 1
        try:
            yield
        finally:
            with _held_guard:
                _held.pop(key, None)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _acquire(fd: int, model_name: str, wait: float, say: Callable[[str], None]) -> None:
    start = time.monotonic()
    next_report = start
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        now = time.monotonic()
        who = _describe(holder(model_name))
        if now - start >= wait:
            raise ReleaseLockTimeout(
                f"model '{model_name}': another release is still running ({who}) after {wait:.0f}s of waiting; "
                "let it finish, or stop it (its lock is released when it exits) and retry. "
                f"Lock: {lock_path(model_name)}"
            )
        if now >= next_report:
            say(f"model '{model_name}': waiting for another release to finish ({who})")
            next_report = now + _REPORT_EVERY
        time.sleep(0.2)


def _describe(info: Optional[Dict[str, object]]) -> str:
    if not info:
        return "holder unknown"
    return f"{info.get('action')} by pid {info.get('pid')} on {info.get('host')} since {info.get('since')}"
