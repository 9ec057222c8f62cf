"""A small supervisor that keeps one daemon running: `python -m core.supervise [options] -- <daemon argv>`.

It is what the project records and stops for a serving deployment: it leads the process group, so stopping the
group stops it and the daemon together, and it outlives the CLI that started it. When the daemon exits on its
own (crash, OOM kill, `kill -9`), the supervisor stops what is left of the daemon's processes and starts it again.

With `--listen`, the supervisor owns the listening sockets and hands them to the daemon (systemd socket
activation: LISTEN_FDS/LISTEN_PID, which gunicorn understands). Connections that arrive while the daemon restarts
wait in the socket's backlog instead of being refused, so a crash costs latency, not errors.

With `--standby`, the supervisor also keeps a warm standby: a second instance of the daemon, started with the same
sockets, that does its slow preparation (imports, model load) and then waits on a pipe (SUPERVISE_GO_FD, see
`wait_for_go`) before it serves. When the serving daemon dies, the standby is told to go at once and a new standby
is prepared in the background: the replacement costs the standby's last steps, not a cold start, so how soon
requests are served again does not depend on how busy the machine is. A daemon that does not call `wait_for_go`
serves at once and must not be run with `--standby`.

Policy: a first start that exits before it ever got ready is final (the caller sees a failed start quickly);
after that, at most --max-restarts restarts within --window seconds, with a short backoff, then it gives up.
Standard library only: it runs in the serving environment's interpreter as well as the project's.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import fcntl
import os
import signal
import socket
import sys
import time
import urllib.request
from collections import deque
from typing import Deque, List, Optional

LISTEN_FDS_START = 3
GO_FD_ENV = "SUPERVISE_GO_FD"  # a standby reads one byte from this fd before it serves (`wait_for_go`)
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NAME = 15
STANDBY_NAME = "standby"
READY_WITHOUT_URL = 5.0  # without --ready-url, a daemon that ran this long counts as started


def say(message: str) -> None:
    now = time.time()
    stamp = time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now % 1 * 1000):03d}"
    print(f"[supervisor {os.getpid()} {stamp}] {message}", flush=True)


def wait_for_go() -> None:
    """Daemon side of `--standby`: once prepared, block until the supervisor promotes this instance.

    Returns at once when the daemon was not started as a standby. While it waits, the process is named
    `standby` (/proc/<pid>/comm), so tools and tests can tell it from the serving daemon. Exits if the supervisor
    went away first.
    """
    fd = os.environ.pop(GO_FD_ENV, None)
    if fd is None:
        return
    name = _process_name()
    _set_process_name(STANDBY_NAME)
    received = os.read(int(fd), 1)
    os.close(int(fd))
    _set_process_name(name)
    if not received:
        raise SystemExit("the supervisor went away before this standby was promoted")


def is_standby(pid: int) -> bool:
    """Whether `pid` is a standby waiting to be promoted."""
    return _process_name(pid) == STANDBY_NAME


def serving_daemon(supervisor: int) -> int:
    """The supervisor's child that serves: not the standby (the serving one has forked its workers)."""
    children = [p for p in group_members(os.getpgid(supervisor), exclude=supervisor)
                if parent_of(p) == supervisor and not is_standby(p)]
    with_workers = [p for p in children if any(parent_of(q) == p for q in group_members(os.getpgid(p), exclude=p))]
    found = with_workers or children
    if not found:
        raise LookupError(f"supervisor {supervisor} has no serving daemon")
    return found[0]


def parent_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError):
        return 0


def _process_name(pid: object = "self") -> str:
    try:
        with open(f"/proc/{pid}/comm") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def _set_process_name(name: str) -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0)


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


class Instance:
    """One started daemon: its pid, the write end of its go pipe (standby mode), and whether it got ready."""

    def __init__(self, pid: int, go: Optional[int]) -> None:
        self.pid, self.go, self.ready, self.started = pid, go, False, time.monotonic()
        self.next_probe = 0.0

    def promote(self) -> None:
        if self.go is not None:
            with contextlib.suppress(OSError):
                os.write(self.go, b"1")
            os.close(self.go)
            self.go = None
        self.started, self.ready = time.monotonic(), False


class Supervisor:
    def __init__(self, argv: List[str], sockets: List[socket.socket], ready_url: str, max_restarts: int,
                 window: float, standby: bool = False) -> None:
        self.argv, self.sockets, self.ready_url = argv, sockets, ready_url
        self.max_restarts, self.window, self.keep_standby = max_restarts, window, standby
        self.stopping = False
        self.active: Optional[Instance] = None
        self.standby: Optional[Instance] = None
        self.standby_failures: Deque[float] = deque()
        self.standby_not_before = 0.0
        self.retiring: List[int] = []
        self.term_at = self.kill_at = 0.0
        self.termed = False

    def on_signal(self, signum: int, _frame: object) -> None:
        self.stopping = True
        for instance in (self.active, self.standby):
            if instance:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(instance.pid, signal.SIGTERM)

    def start(self, standby: bool = False) -> Instance:
        """Fork and exec the daemon; as a standby (or in standby mode) it gets a go pipe to wait on."""
        read_end, go = os.pipe() if self.keep_standby else (None, None)
        pid = os.fork()
        if pid:
            if read_end is not None:
                os.close(read_end)
            instance = Instance(pid, go)
            if not standby:
                instance.promote()
            say(f"started {'standby' if standby else 'daemon'} pid {pid}: {' '.join(self.argv)[:200]}")
            return instance
        try:  # the child: hand over the sockets as fds 3, 4, ... and become the daemon
            env = dict(os.environ)
            if read_end is not None:  # above the socket fds, and kept across exec (os.pipe's are close-on-exec)
                go_fd = fcntl.fcntl(read_end, fcntl.F_DUPFD, LISTEN_FDS_START + len(self.sockets))
                env[GO_FD_ENV] = str(go_fd)
            high = [os.dup(s.fileno()) for s in self.sockets]
            for i, fd in enumerate(high):
                os.dup2(fd, LISTEN_FDS_START + i)
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

    def probe(self, instance: Instance) -> None:
        now = time.monotonic()
        if instance.ready or self.stopping:
            return
        if self.ready_url and now >= instance.next_probe:
            instance.ready, instance.next_probe = self.ready(), now + 0.5
        elif not self.ready_url:
            instance.ready = now - instance.started >= READY_WITHOUT_URL
        if instance.ready:
            say(f"daemon pid {instance.pid} is ready")

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

    def reap_all(self) -> dict:
        """Exit statuses of the children that ended since the last call (adopted orphans included)."""
        ended = {}
        while True:
            try:
                done, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return ended
            if done == 0:
                return ended
            ended[done] = status

    def leftovers(self) -> List[int]:
        """What is left of dead daemons (workers, metrics server): the group but us, the daemon and the standby."""
        keep = {p.pid for p in (self.active, self.standby) if p}
        members = group_members(os.getpgrp(), exclude=os.getpid())
        parents = {pid: parent_of(pid) for pid in members}
        changed = True
        while changed:  # everything under a live instance is its own
            grown = {pid for pid, parent in parents.items() if parent in keep} - keep
            changed = bool(grown)
            keep |= grown
        return [pid for pid in members if pid not in keep]

    def retire(self, pids: List[int], grace: float, delay: float = 0.0) -> None:
        """SIGTERM `pids` after `delay` seconds, SIGKILL whatever still runs `grace` seconds later.

        After a crash the replacement serves at once: the listening socket is shared, so the old workers (which
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
        self.active = self.standby = None
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
        self.active = self.start()
        while True:
            ended = self.reap_all()
            self.check_retiring()
            if self.stopping and (self.active is None or self.active.pid in ended):
                self.clear_group()
                return 0
            if self.standby and self.standby.pid in ended and not self.stopping:
                self.lost_standby(ended[self.standby.pid])
            if self.active and self.active.pid in ended:
                status, got_ready = ended[self.active.pid], self.active.ready
                say(f"daemon exited ({describe(status)}); stopping its leftover processes")
                if first and not got_ready:
                    self.clear_group()
                    say("it never got ready: not restarting")
                    return os.waitstatus_to_exitcode(status) or 1
                first = False
                now = time.monotonic()
                while restarts and now - restarts[0] > self.window:
                    restarts.popleft()
                if len(restarts) >= self.max_restarts:
                    say(f"giving up: {len(restarts)} restarts within {self.window:g}s")
                    self.clear_group()
                    return 1
                if self.standby:  # the warm one serves at once; the old one's leftovers finish meanwhile
                    self.active, self.standby = self.standby, None
                    self.active.promote()
                    self.retire(self.leftovers(), grace=5.0, delay=2.0)
                    restarts.append(time.monotonic())
                    say(f"promoted the standby pid {self.active.pid} "
                        f"({len(restarts)}/{self.max_restarts} within {self.window:g}s)")
                else:
                    self.active = None
                    self.retire(self.leftovers(), grace=5.0, delay=2.0)
                    if restarts:
                        time.sleep(min(0.5 * 2 ** (len(restarts) - 1), 5.0))
                    restarts.append(time.monotonic())
                    say(f"restarting the daemon ({len(restarts)}/{self.max_restarts} within {self.window:g}s)")
                    self.active = self.start()
            if self.active:
                self.probe(self.active)
                if (self.keep_standby and self.active.ready and not self.standby and not self.retiring
                        and not self.stopping and time.monotonic() >= self.standby_not_before):  # prepared while the daemon serves, once a crash's leftovers left
                    self.standby = self.start(standby=True)
            time.sleep(0.05)

    def lost_standby(self, status: int) -> None:
        """A standby that dies is replaced, unless standbys keep dying: then the daemon runs without one."""
        say(f"standby pid {self.standby.pid} exited ({describe(status)})")
        self.standby = None
        now = time.monotonic()
        self.standby_failures.append(now)
        while self.standby_failures and now - self.standby_failures[0] > self.window:
            self.standby_failures.popleft()
        if len(self.standby_failures) >= self.max_restarts:
            say(f"no standby any more: {len(self.standby_failures)} standbys died within {self.window:g}s")
            self.keep_standby = False
        else:  # not sleeping here: the serving daemon is still watched meanwhile
            self.standby_not_before = now + min(0.5 * 2 ** (len(self.standby_failures) - 1), 5.0)


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
    parser.add_argument("--standby", action="store_true",
                        help="keep a prepared second instance waiting (the daemon must call wait_for_go)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no daemon command after --")
    with contextlib.suppress(OSError, AttributeError):  # adopt the daemon's orphans so they can be reaped
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    sockets = [listen(spec) for spec in args.listen]
    supervisor = Supervisor(command, sockets, args.ready_url, args.max_restarts, args.window, args.standby)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, supervisor.on_signal)
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
