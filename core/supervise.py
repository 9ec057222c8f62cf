"""A small supervisor that keeps one daemon running: `python -m core.supervise [options] -- <daemon argv>`.

It is what the project records and stops for a serving deployment: it leads the process group, so stopping the
group stops it and the daemon together, and it outlives the CLI that started it. When the daemon exits on its
own (crash, OOM kill, `kill -9`), the supervisor stops what is left of the daemon's processes and starts it again.

With `--listen`, the supervisor owns the listening sockets and hands them to the daemon (systemd socket
activation: LISTEN_FDS/LISTEN_PID, which gunicorn understands). Connections that arrive while the daemon restarts
wait in the socket's backlog instead of being refused, so a crash costs a few seconds of latency, not errors.

Policy: a first start that exits before it ever got ready is final (the caller sees a failed start quickly);
after that, at most --max-restarts restarts within --window seconds, with a short backoff, then it gives up.
Standard library only: it runs in the serving environment's interpreter as well as the project's.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import socket
import sys
import time
import urllib.request
from collections import deque
from typing import Deque, List, Optional

LISTEN_FDS_START = 3
PR_SET_CHILD_SUBREAPER = 36
READY_WITHOUT_URL = 5.0  # without --ready-url, a daemon that ran this long counts as started


def say(message: str) -> None:
    print(f"[supervisor {os.getpid()}] {message}", flush=True)


def listen(spec: str) -> socket.socket:
    """`tcp:HOST:PORT` or `unix:PATH` -> a listening socket (a stale unix socket file is replaced)."""
    kind, _, address = spec.partition(":")
    if kind == "tcp":
        host, _, port = address.rpartition(":")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        target: object = (host, int(port))
    elif kind == "unix":
        with contextlib.suppress(FileNotFoundError):
            os.unlink(address)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target = address
    else:
        raise SystemExit(f"--listen {spec!r}: expected tcp:HOST:PORT or unix:PATH")
    try:
        sock.bind(target)
    except OSError as exc:
        # the same words gunicorn logs, so callers that retry on another port recognise it
        say(f"Connection in use: {address} ({exc})")
        raise SystemExit(98) from None
    sock.listen(2048)
    return sock


class Supervisor:
    def __init__(self, argv: List[str], sockets: List[socket.socket], ready_url: str, max_restarts: int,
                 window: float) -> None:
        self.argv, self.sockets, self.ready_url = argv, sockets, ready_url
        self.max_restarts, self.window = max_restarts, window
        self.stopping = False
        self.child: Optional[int] = None
        self.retiring: List[int] = []
        self.term_at = self.kill_at = 0.0
        self.termed = False

    def on_signal(self, signum: int, _frame: object) -> None:
        self.stopping = True
        if self.child:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.child, signal.SIGTERM)

    def start(self) -> int:
        pid = os.fork()
        if pid:
            return pid
        try:  # the child: hand over the sockets as fds 3, 4, ... and become the daemon
            high = [os.dup(s.fileno()) for s in self.sockets]
            for i, fd in enumerate(high):
                os.dup2(fd, LISTEN_FDS_START + i)
            env = dict(os.environ)
            if self.sockets:
                env.update(LISTEN_FDS=str(len(self.sockets)), LISTEN_PID=str(os.getpid()))
            os.execvpe(self.argv[0], self.argv, env)
        finally:
            os._exit(127)

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.ready_url, timeout=1.0) as response:  # noqa: S310 - our own URL
                return response.status == 200
        except Exception:  # noqa: BLE001 - not ready, whatever the reason
            return False

    def watch(self, pid: int) -> tuple:
        """Waits until `pid` exits (reaping adopted orphans meanwhile); returns (exit status, whether it got ready)."""
        started, got_ready, next_probe = time.monotonic(), False, 0.0
        while True:
            status = self.reap(pid)
            if status is not None:
                return status, got_ready
            self.check_retiring()
            now = time.monotonic()
            if not got_ready and not self.stopping:
                if self.ready_url and now >= next_probe:
                    got_ready, next_probe = self.ready(), now + 0.5
                elif not self.ready_url:
                    got_ready = now - started >= READY_WITHOUT_URL
                if got_ready:
                    say(f"daemon pid {pid} is ready")
            time.sleep(0.1)

    @staticmethod
    def reap(pid: int) -> Optional[int]:
        found = None
        while True:
            try:
                done, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return found if found is not None else 0
            if done == 0:
                return found
            if done == pid:
                found = status

    def leftovers(self) -> List[int]:
        """What is left of the daemon's processes (workers, metrics server): everything in our group but us."""
        return group_members(os.getpgrp(), exclude=os.getpid())

    def retire(self, pids: List[int], grace: float, delay: float = 0.0) -> None:
        """SIGTERM `pids` after `delay` seconds, SIGKILL whatever still runs `grace` seconds later.

        After a crash the new daemon starts at once: the listening socket is shared, so the old workers (which
        leave by themselves once they see their master gone) and the new ones can both serve. The delay lets the
        old workers finish what they have with the helpers they need (Seldon's metrics manager) still alive;
        gunicorn retries a port the old metrics server still holds meanwhile.
        """
        now = time.monotonic()
        self.retiring, self.term_at, self.kill_at = list(pids), now + delay, now + delay + grace
        self.termed = False
        self.check_retiring()

    def check_retiring(self) -> None:
        self.retiring = [p for p in self.retiring if _alive(p)]
        now = time.monotonic()
        for sig, due, done in ((signal.SIGTERM, self.term_at, self.termed), (signal.SIGKILL, self.kill_at, False)):
            if self.retiring and now >= due and not done:
                for pid in self.retiring:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, sig)
                self.termed = True

    def clear_group(self, grace: float = 5.0) -> None:
        """Stops every other process of the group and waits for them (before the supervisor exits)."""
        self.retire(self.leftovers(), grace)
        while self.retiring:
            self.reap(-1)
            self.check_retiring()
            time.sleep(0.05)
        for pid in self.leftovers():  # started while we were stopping
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def run(self) -> int:
        restarts: Deque[float] = deque()
        first = True
        while True:
            self.child = self.start()
            say(f"started daemon pid {self.child}: {' '.join(self.argv)[:200]}")
            status, got_ready = self.watch(self.child)
            self.child = None
            if self.stopping:
                self.clear_group()
                return 0
            say(f"daemon exited ({describe(status)}); stopping its leftover processes")
            if first and not got_ready:
                self.clear_group()
                say("it never got ready: not restarting")
                return os.waitstatus_to_exitcode(status) or 1
            self.retire(self.leftovers(), grace=5.0, delay=2.0)
            first = False
            now = time.monotonic()
            while restarts and now - restarts[0] > self.window:
                restarts.popleft()
            if len(restarts) >= self.max_restarts:
                say(f"giving up: {len(restarts)} restarts within {self.window:g}s")
                self.clear_group()
                return 1
            if restarts:
                time.sleep(min(0.5 * 2 ** (len(restarts) - 1), 5.0))
            restarts.append(time.monotonic())
            say(f"restarting the daemon ({len(restarts)}/{self.max_restarts} within {self.window:g}s)")


def describe(status: int) -> str:
    code = os.waitstatus_to_exitcode(status)
    return f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def group_members(pgid: int, exclude: int) -> List[int]:
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != exclude:
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                members.append(int(entry))
    return members


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.supervise", description=__doc__.splitlines()[0])
    parser.add_argument("--listen", action="append", default=[], help="tcp:HOST:PORT or unix:PATH (repeatable)")
    parser.add_argument("--ready-url", default="", help="answers 200 once the daemon is ready")
    parser.add_argument("--max-restarts", type=int, default=5)
    parser.add_argument("--window", type=float, default=60.0, help="seconds over which restarts are counted")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no daemon command after --")
    with contextlib.suppress(OSError, AttributeError):  # adopt the daemon's orphans so they can be reaped
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    sockets = [listen(spec) for spec in args.listen]
    supervisor = Supervisor(command, sockets, args.ready_url, args.max_restarts, args.window)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, supervisor.on_signal)
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
