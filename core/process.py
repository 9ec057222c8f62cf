"""One toolkit for every process the project starts: spawn, recognise, wait until ready, stop, clean up.

- A process is spawned detached in its own session (it leads a process group, so stopping it stops its workers),
  with a minimal environment: the child gets a few harmless variables (PATH, HOME, locale, ...) plus what the
  caller passes explicitly, never tracking passwords or other credentials of the CLI process.
- Its identity is recorded at spawn: pid, start time (clock ticks since boot), boot id, command line, and a tag in
  its environment that its descendants inherit. Nothing is signalled unless the identity matches, so a pid reused
  by another program (after a reboot, or after the process died) is never signalled.
- `stopped_on_failure` stops a just-started process on any interruption, Ctrl-C included.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

HOST = "127.0.0.1"
TAG_ENV = "MLOPS_PROCESS_TAG"
# What a child may inherit from the CLI's environment; everything else must be passed explicitly.
INHERITED = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TERM")
INHERITED_PREFIXES = ("LC_",)


class ProcessError(RuntimeError):
    """A process could not be started, did not get ready, or cannot be safely signalled."""


def child_env(extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The environment of a child: the harmless basics of ours plus `extra` (credentials only when passed there)."""
    env = {k: v for k, v in os.environ.items() if k in INHERITED or k.startswith(INHERITED_PREFIXES)}
    env.update(extra or {})
    return env


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _stat_fields(pid: int) -> Optional[List[str]]:
    """Fields of /proc/<pid>/stat after the command name: state ppid pgrp session ... (None if gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def start_ticks(pid: int) -> Optional[int]:
    """When `pid` started, in clock ticks since boot (None if it does not exist)."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def cmdline(pid: int) -> List[str]:
    try:
        return [a.decode(errors="replace") for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
    except OSError:
        return []


def _is_zombie(pid: int) -> bool:
    fields = _stat_fields(pid)
    return fields is None or fields[0] in ("Z", "X")


@dataclass(frozen=True)
class Identity:
    """What was spawned, recorded so it can be recognised again before it is signalled."""

    pid: int
    start_ticks: int
    boot_id: str
    argv: Tuple[str, ...]
    marker: str = ""  # a processes that retitles itself (nginx, postgres) keeps this in its command line
    tag: str = field(default_factory=lambda: uuid.uuid4().hex)

    @classmethod
    def adopt(cls, pid: Optional[int], marker: str) -> Optional["Identity"]:
        """For records written before identities were kept: the process at `pid` if its command line names `marker`."""
        ticks = start_ticks(pid) if pid else None
        if pid is None or ticks is None or marker not in " ".join(cmdline(pid)):
            return None
        return cls(pid=pid, start_ticks=ticks, boot_id=boot_id(), argv=tuple(cmdline(pid)), marker=marker, tag="")

    @classmethod
    def of(cls, record: Optional[Mapping[str, object]], marker: str) -> Optional["Identity"]:
        """The identity in a registry record (`{"identity": {...}}`, or a bare legacy `{"pid": n}`)."""
        if not record:
            return None
        if record.get("identity"):
            return cls.from_dict(record["identity"])  # type: ignore[arg-type]
        return cls.adopt(record.get("pid"), marker)  # type: ignore[arg-type]

    def to_dict(self) -> Dict[str, object]:
        return {**asdict(self), "argv": list(self.argv)}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> "Identity":
        return cls(**{**data, "argv": tuple(data["argv"])})  # type: ignore[arg-type]

    def mismatch(self) -> Optional[str]:
        """Why the process at `pid` is not this one (None when it is, '' when nothing runs under `pid`)."""
        if self.boot_id != boot_id():
            return "recorded before the last reboot"
        ticks = start_ticks(self.pid)
        if ticks is None or _is_zombie(self.pid):
            return ""
        if ticks != self.start_ticks:
            return f"pid {self.pid} now belongs to a process started at another time"
        current = cmdline(self.pid)
        # a script runs as `<interpreter> <script> <args>`: its argv is a suffix of the command line
        same = current[-len(self.argv):] == list(self.argv) if self.argv else True
        if current and not same and not (self.marker and self.marker in " ".join(current)):
            return f"pid {self.pid} now runs {' '.join(current)[:120]!r}"
        return None

    def alive(self) -> bool:
        _reap(self.pid)
        return self.mismatch() is None

    def members(self) -> List[int]:
        """Live processes of our group: all of them while the leader is ours, else those carrying our tag."""
        if self.boot_id != boot_id():
            return []
        leader_ours = self.mismatch() is None
        return [pid for pid in group_members(self.pid) if leader_ours or _carries_tag(pid, self.tag)]


def group_members(pgid: int) -> List[int]:
    """Pids of the live (non-zombie) processes in process group `pgid`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                found.append(int(entry))
    return found


def _carries_tag(pid: int, tag: str) -> bool:
    try:
        return f"{TAG_ENV}={tag}".encode() in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False


def spawn(argv: Sequence[str], log_file: Path, env: Optional[Mapping[str, str]] = None, cwd: Optional[Path] = None,
          user: Optional[str] = None, marker: str = "") -> Identity:
    """Starts `argv` detached in its own session with child_env(`env`), output appended to `log_file`."""
    tag = uuid.uuid4().hex
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(  # noqa: S603 - argv built by the project, no shell
            list(argv), env={**child_env(env), TAG_ENV: tag}, cwd=str(cwd) if cwd else None,
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
            user=user,
        )
    ticks = start_ticks(proc.pid)
    return Identity(pid=proc.pid, start_ticks=ticks if ticks is not None else -1, boot_id=boot_id(),
                    argv=tuple(argv), marker=marker, tag=tag)


def stop(identity: Optional[Identity], grace: float = 20.0, sig: int = signal.SIGTERM) -> bool:
    """Stops the process group: `sig`, up to `grace` seconds, then SIGKILL. Returns whether anything was ours.

    Signals only what the identity check recognises; a pid reused by another program is left alone.
    """
    if identity is None:
        return False
    found = False
    for current_sig, wait in ((sig, grace), (signal.SIGKILL, 5.0)):
        targets = identity.members()
        if not targets:
            break
        found = True
        if identity.mismatch() is None:
            _signal_group(identity.pid, current_sig)
        else:  # the leader is gone: signal the remaining tagged members one by one
            for pid in targets:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, current_sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            _reap(identity.pid)
            if not identity.members():
                break
            time.sleep(0.1)
    _reap(identity.pid)
    return found


@contextlib.contextmanager
def stopped_on_failure(identity: Identity, grace: float = 5.0) -> Iterator[Identity]:
    """Stops `identity` if the block raises anything at all (KeyboardInterrupt and SystemExit included)."""
    try:
        yield identity
    except BaseException:
        stop(identity, grace=grace)
        raise


def wait_ready(identity: Identity, ready: Callable[[], bool], timeout: float, what: str,
               log_file: Optional[Path] = None) -> None:
    """Polls `ready()` until true; raises ProcessError if the process exits first or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not identity.alive():
            code = _EXIT_CODES.get(identity.pid)
            how = f" with code {code}" if code is not None else f" (pid {identity.pid})"
            raise ProcessError(f"{what} exited{how} while starting{_log_hint(log_file)}")
        if ready():
            return
        time.sleep(0.25)
    raise ProcessError(f"{what} not ready after {timeout:g}s{_log_hint(log_file)}")


def launch(argv: Sequence[str], log_file: Path, ready: Callable[[], bool], timeout: float, what: str,
           **spawn_args) -> Identity:  # noqa: ANN003 - spawn's keyword arguments
    """spawn + wait_ready; the process is stopped if it does not get ready or anything interrupts the wait."""
    identity = spawn(argv, log_file, **spawn_args)
    with stopped_on_failure(identity):
        wait_ready(identity, ready, timeout, what, log_file)
    return identity


def save(identity: Identity, path: Path) -> None:
    """Writes the identity record (JSON, 0600) atomically."""
    import json

    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(identity.to_dict(), handle)
    os.replace(tmp, path)


def load(path: Path) -> Optional[Identity]:
    """The identity recorded at `path`; None when there is none or it is not a record (a bare pid is not enough)."""
    import json

    try:
        return Identity.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log file ('' if it does not exist)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            return "\n".join(f.read().decode(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _log_hint(log_file: Optional[Path]) -> str:
    return f"; log {log_file}:\n{tail(log_file)}" if log_file else ""


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


_EXIT_CODES: Dict[int, int] = {}


def _reap(pid: int) -> None:
    """Collects the exit status if `pid` is our own exited child, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            _EXIT_CODES[pid] = os.waitstatus_to_exitcode(status)
