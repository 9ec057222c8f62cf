"""A long-running local process the project starts and stops itself: detached, logged, tracked by a pid file.

Every service binds 127.0.0.1 only. A service runs in its own session (process group), so stopping it stops its
workers too (MLflow's uvicorn workers, PostgreSQL's backends), and it outlives the command that started it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

from stacks.state import state_dir

HOST = "127.0.0.1"


class ServiceError(RuntimeError):
    """A local service could not be started, reached or stopped; the message says which and where to look."""


def services_dir() -> Path:
    """Where pid files, logs and data of the local services live (under the run-state root)."""
    path = state_dir() / "services"
    path.mkdir(parents=True, exist_ok=True)
    return path


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


def tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log file, for error messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class ManagedProcess:
    """One detached service process with `<name>.pid` and `<name>.log` in services_dir()."""

    name: str
    port: int
    argv: List[str] = field(default_factory=list)
    env: Dict[str, str] = field(default_factory=dict)
    user: Optional[str] = None  # run as this system user (PostgreSQL refuses to run as root)
    stop_signal: int = signal.SIGTERM

    @property
    def pid_file(self) -> Path:
        return services_dir() / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return services_dir() / f"{self.name}.log"

    def pid(self) -> Optional[int]:
        """The pid from the pid file if that process is still alive, else None (a stale file is removed)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            self.pid_file.unlink(missing_ok=True)
            return None
        except PermissionError:
            pass  # alive, owned by another user
        if _is_zombie(pid):
            self.pid_file.unlink(missing_ok=True)
            return None
        return pid

    def running(self) -> bool:
        return self.pid() is not None

    def start(self, ready: Callable[[], bool], timeout: float = 60.0) -> int:
        """Starts the process unless it runs already, then waits until `ready()` is true. Returns the pid."""
        pid = self.pid()
        if pid is not None:
            return pid
        if port_open(self.port):
            raise ServiceError(
                f"{self.name}: port {HOST}:{self.port} is already in use by another program; stop it or choose "
                f"another port (see `python run.py stack show server`)"
            )
        env = {**os.environ, **self.env}
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(  # noqa: S603 - argv built by the project, no shell
                self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                start_new_session=True, user=self.user, cwd=services_dir(),
            )
        self.pid_file.write_text(str(proc.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                raise ServiceError(f"{self.name} exited with code {proc.returncode} while starting; "
                                   f"log {self.log_file}:\n{tail(self.log_file)}")
            if ready():
                return proc.pid
            time.sleep(0.3)
        self.stop()
        raise ServiceError(f"{self.name} not ready on {HOST}:{self.port} after {timeout:g}s; "
                           f"log {self.log_file}:\n{tail(self.log_file)}")

    def stop(self, timeout: float = 30.0) -> bool:
        """Stops the process group (graceful signal, then SIGKILL). Returns whether something was running."""
        pid = self.pid()
        if pid is None:
            return False
        _signal_group(pid, self.stop_signal)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _group_alive(pid):
            _reap(pid)
            time.sleep(0.2)
        if _group_alive(pid):
            _signal_group(pid, signal.SIGKILL)
            time.sleep(0.2)
        _reap(pid)
        self.pid_file.unlink(missing_ok=True)
        return True


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    # A group whose only members are zombies is as good as gone.
    return any(not _is_zombie(pid) for pid in _group_members(pgid))


def _group_members(pgid: int) -> List[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pgid:
                    members.append(int(entry.name))
            except (ProcessLookupError, PermissionError):
                continue
    return members


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def _reap(pid: int) -> None:
    """Collects the exit status if the process is our own child (started in this Python process)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
