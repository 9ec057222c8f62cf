"""Daemon processes for the local Seldon backend: spawn detached, find free ports, wait healthy, stop a whole group."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Collection, Dict, Iterator, List, Optional, Sequence, Tuple


def spawn(argv: Sequence[str], env: Dict[str, str], log_file: Path, cwd: Optional[Path] = None) -> int:
    """Start `argv` in its own session (so it outlives the caller and owns a process group); return its pid."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            list(argv), env=env, cwd=str(cwd) if cwd else None, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
        )
    return proc.pid


def _reap(pid: int) -> None:
    """Collect `pid` if it is our exited child, so it does not linger as a zombie that still 'exists'."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def is_alive(pid: Optional[int], marker: str = "") -> bool:
    """True if `pid` runs and (when given) its command line contains `marker`: guards against pid reuse."""
    if not pid:
        return False
    _reap(pid)
    try:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
        if marker:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
            # empty while a starting process (nginx) rewrites its title: alive, just not identifiable yet
            return not cmdline or marker.encode() in cmdline
        return True
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def group_members(pgid: int) -> List[int]:
    """Pids of live (non-zombie) processes in process group `pgid`."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        # fields after the command: state ppid pgrp ...
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry))
    return members


def stop_group(pgid: Optional[int], grace: float = 20.0) -> None:
    """SIGTERM the whole process group, wait up to `grace` seconds, then SIGKILL what is left."""
    if not pgid:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            _reap(pgid)
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            _reap(pgid)
            if not group_members(pgid):
                return
            time.sleep(0.1)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # as servers bind (SO_REUSEADDR): connections left in TIME_WAIT do not make a port busy
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def pick_ports(count: int, port_range: Tuple[int, int], taken: Collection[int], host: str = "127.0.0.1") -> List[int]:
    """`count` distinct free ports in [low, high), avoiding `taken` (ports other deployments hold or reserved)."""
    low, high = port_range
    candidates = [p for p in range(low, high) if p not in taken]
    random.shuffle(candidates)  # concurrent deployers rarely race for the same port
    chosen = []
    for port in candidates:
        if port_is_free(port, host):
            chosen.append(port)
            if len(chosen) == count:
                return chosen
    raise RuntimeError(f"no {count} free ports in {low}-{high - 1} on {host} ({len(taken)} held by deployments)")


def http_get(url: str, timeout: float = 2.0) -> Tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def http_post_json(url: str, body: bytes, timeout: float = 10.0) -> Tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_healthy(url: str, pid: int, timeout: float, marker: str = "") -> None:
    """Poll `url` until it answers 200; raise RuntimeError if the process dies or `timeout` passes."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if not is_alive(pid, marker):
            raise RuntimeError(f"process {pid} exited before turning healthy ({last})")
        try:
            status, body = http_get(url, timeout=2.0)
            if status == 200:
                return
            last = f"HTTP {status}: {body[:200].decode(errors='replace')}"
        except (OSError, urllib.error.URLError) as exc:
            last = str(getattr(exc, "reason", exc))
        time.sleep(0.25)
    raise RuntimeError(f"not healthy after {timeout:.0f}s ({last})")


def tail(path: Path, lines: int = 30) -> str:
    """The last `lines` lines of a log file ('' if it does not exist)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            return "\n".join(f.read().decode(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


def follow(path: Path, first: List[str]) -> Iterator[str]:
    """`first`, then every line appended to `path` from now on (until the caller stops iterating)."""
    yield from first
    with open(path, errors="replace") as f:
        f.seek(0, os.SEEK_END)
        while True:
            line = f.readline()
            if line:
                yield line.rstrip("\n")
            else:
                time.sleep(0.5)
