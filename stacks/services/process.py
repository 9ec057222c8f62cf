"""A long-running local service the project starts and stops itself: detached, logged, tracked by an identity
record (core.process), so a pid reused by another program is never signalled.

Every service binds 127.0.0.1 only. A service runs in its own session (process group), so stopping it stops its
workers too (MLflow's uvicorn workers, PostgreSQL's backends), and it outlives the command that started it.
"""

from __future__ import annotations

import signal
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

from core import process
from core.state import private_dir, state_dir

HOST = "127.0.0.1"


class ServiceError(RuntimeError):
    """A local service could not be started, reached or stopped; the message says which and where to look."""


def services_dir() -> Path:
    """Where pid files, logs and data of the local services live (under the run-state root)."""
    return private_dir(state_dir() / "services")


def port_open(port: int, host: str = HOST, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for tests and ad-hoc runs)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass
class ManagedProcess:
    """One detached service process with `<name>.pid` (its identity record) and `<name>.log` in services_dir()."""

    name: str
    port: int
    argv: List[str] = field(default_factory=list)
    env: Dict[str, str] = field(default_factory=dict)  # all the child gets besides PATH, HOME and locale
    user: Optional[str] = None  # run as this system user (PostgreSQL refuses to run as root)
    stop_signal: int = signal.SIGTERM

    @property
    def pid_file(self) -> Path:
        return services_dir() / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return services_dir() / f"{self.name}.log"

    def identity(self) -> Optional[process.Identity]:
        """The recorded process if it still runs (same start time and command), else None (the record is dropped)."""
        identity = process.load(self.pid_file)
        if identity is None:  # no record, or not one we can trust (a bare pid): never signalled
            self.pid_file.unlink(missing_ok=True)
            return None
        if not identity.alive():
            if not identity.members():
                self.pid_file.unlink(missing_ok=True)
            return None
        return identity

    def pid(self) -> Optional[int]:
        identity = self.identity()
        return identity.pid if identity else None

    def running(self) -> bool:
        return self.identity() is not None

    def start(self, ready: Callable[[], bool], timeout: float = 60.0) -> int:
        """Starts the process unless it runs already, then waits until `ready()` is true. Returns the pid.

        Anything that interrupts the wait (an error, Ctrl-C) stops the process again.
        """
        current = self.identity()
        if current is not None:
            return current.pid
        if port_open(self.port):
            raise ServiceError(
                f"{self.name}: port {HOST}:{self.port} is already in use by another program; stop it or choose "
                f"another port (see `python run.py stack show server`)"
            )
        identity = process.spawn(self.argv, self.log_file, env=self.env, cwd=services_dir(), user=self.user)
        try:
            with process.stopped_on_failure(identity, grace=10.0):
                process.save(identity, self.pid_file)
                process.wait_ready(identity, ready, timeout, self.name, self.log_file)
        except BaseException as exc:
            self.pid_file.unlink(missing_ok=True)
            if isinstance(exc, process.ProcessError):
                raise ServiceError(str(exc)) from None
            raise
        return identity.pid

    def stop(self, timeout: float = 30.0) -> bool:
        """Stops the process group (graceful signal, then SIGKILL). Returns whether something of ours was running.

        A pid file whose pid now belongs to another program (reused after a reboot) is dropped, never signalled.
        """
        identity = process.load(self.pid_file)
        stopped = process.stop(identity, grace=timeout, sig=self.stop_signal)
        self.pid_file.unlink(missing_ok=True)
        return stopped
