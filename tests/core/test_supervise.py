"""The supervisor with real processes: restarts a killed daemon, hands it the sockets it holds, gives up on a
daemon that never starts, and goes away with its process group."""

from __future__ import annotations

import os
import signal
import sys
import urllib.request

import pytest

from core import process, supervise
from core.state import PROJECT_ROOT
from stacks.services.process import free_port

# A daemon that serves on the sockets the supervisor hands it (LISTEN_FDS), like gunicorn does.
SOCKET_DAEMON = """
import http.server, os, socket
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(str(os.getpid()).encode())
    def log_message(self, *args): pass
assert os.environ["LISTEN_PID"] == str(os.getpid())
server = http.server.HTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
server.socket = socket.socket(fileno=3)
server.serve_forever()
"""


def supervised(tmp_path, daemon: list, *options: str) -> process.Identity:
    argv = [sys.executable, "-m", "core.supervise", *options, "--", *daemon]
    return process.spawn(argv, tmp_path / "supervised.log", env={"PYTHONPATH": str(PROJECT_ROOT)})


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def answers(url: str) -> bool:
    try:
        get(url)
        return True
    except OSError:
        return False


def daemon_pid(supervisor: process.Identity) -> int:
    def parent(pid: int) -> int:
        return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])

    children = [p for p in process.group_members(supervisor.pid) if parent(p) == supervisor.pid]
    assert len(children) == 1, children
    return children[0]


@pytest.fixture
def stop_after():
    started = []
    yield started.append
    for identity in started:
        process.stop(identity, grace=5.0)


def test_a_killed_daemon_is_restarted_on_the_socket_the_supervisor_holds(tmp_path, stop_after):
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    sup = supervised(tmp_path, [sys.executable, "-c", SOCKET_DAEMON], "--listen", f"tcp:127.0.0.1:{port}",
                     "--ready-url", url)
    stop_after(sup)
    process.wait_ready(sup, lambda: answers(url), 30, "supervised daemon", tmp_path / "supervised.log")
    first = daemon_pid(sup)
    assert get(url) == str(first)
    os.kill(first, signal.SIGKILL)
    # Requests sent while it restarts wait in the supervisor's socket instead of failing.
    second = get(url)
    assert second != str(first) and sup.alive()
    assert "restarting the daemon (1/5" in (tmp_path / "supervised.log").read_text()
    assert process.stop(sup, grace=5.0) is True
    assert not process.group_members(sup.pid) and not answers(url)


def test_a_daemon_that_never_gets_ready_is_not_restarted(tmp_path, stop_after):
    sup = supervised(tmp_path, [sys.executable, "-c", "import sys; print('bad model'); sys.exit(3)"],
                     "--ready-url", f"http://127.0.0.1:{free_port()}/")
    stop_after(sup)
    with pytest.raises(process.ProcessError, match=r"(?s)exited with code 3 while starting.*never got ready"):
        process.wait_ready(sup, lambda: False, 30, "supervised daemon", tmp_path / "supervised.log")


def test_a_daemon_that_keeps_crashing_is_given_up(tmp_path, stop_after):
    marker = tmp_path / "ran-once"
    # Ready at once (no URL, short uptime needed) would need 5 s; instead the first run answers, then crashes.
    port = free_port()
    daemon = (f"import os, sys, pathlib; p = pathlib.Path({str(marker)!r})\n"
              f"if p.exists(): sys.exit(1)\n"
              f"p.touch()\n" + SOCKET_DAEMON)
    sup = supervised(tmp_path, [sys.executable, "-c", daemon], "--listen", f"tcp:127.0.0.1:{port}",
                     "--ready-url", f"http://127.0.0.1:{port}/", "--max-restarts", "2")
    stop_after(sup)
    url = f"http://127.0.0.1:{port}/"
    process.wait_ready(sup, lambda: answers(url), 30, "supervised daemon", tmp_path / "supervised.log")
    os.kill(daemon_pid(sup), signal.SIGKILL)
    with pytest.raises(process.ProcessError, match=r"(?s)exited with code 1.*giving up: 2 restarts"):
        process.wait_ready(sup, lambda: False, 60, "supervised daemon", tmp_path / "supervised.log")
    assert not process.group_members(sup.pid)


# The same daemon, prepared as a standby: it waits for the supervisor's go (core.supervise.wait_for_go) before it
# serves, as serving.launch does after importing Seldon and loading the model.
STANDBY_DAEMON = "from core.supervise import wait_for_go\nwait_for_go()\n" + SOCKET_DAEMON


def _standby_of(supervisor: process.Identity, deadline: float = 60.0) -> int:
    """The standby waiting beside the serving daemon, once it has been started and prepared."""
    import time

    give_up = time.monotonic() + deadline
    while time.monotonic() < give_up:
        waiting = [p for p in process.group_members(supervisor.pid) if supervise.is_standby(p)]
        if waiting:
            return waiting[0]
        time.sleep(0.05)
    raise AssertionError("no standby was prepared")


def test_the_standby_serves_while_the_killed_daemon_is_dead(tmp_path, stop_after):
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    sup = supervised(tmp_path, [sys.executable, "-c", STANDBY_DAEMON], "--standby",
                     "--listen", f"tcp:127.0.0.1:{port}", "--ready-url", url)
    stop_after(sup)
    process.wait_ready(sup, lambda: answers(url), 30, "supervised daemon", tmp_path / "supervised.log")
    first = supervise.serving_daemon(sup.pid)
    standby = _standby_of(sup)
    assert get(url) == str(first), "the standby must not serve before it is promoted"
    os.kill(first, signal.SIGKILL)
    # The request is answered by the standby, started before the kill: no daemon was started cold for it.
    assert get(url) == str(standby)
    assert supervise.serving_daemon(sup.pid) == standby
    assert f"promoted the standby pid {standby} (1/5" in (tmp_path / "supervised.log").read_text()
    replacement = _standby_of(sup)  # and a new standby is prepared behind it
    assert replacement not in (first, standby)
    assert process.stop(sup, grace=5.0) is True
    assert not process.group_members(sup.pid) and not answers(url)


def test_a_standby_that_loses_its_supervisor_exits_instead_of_serving(tmp_path):
    read_end, write_end = os.pipe()
    os.set_inheritable(read_end, True)
    child = __import__("subprocess").Popen(
        [sys.executable, "-c", "from core.supervise import wait_for_go\nwait_for_go()\nprint('served')"],
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), supervise.GO_FD_ENV: str(read_end)},
        pass_fds=(read_end,), stdout=-1, stderr=-1, text=True)
    os.close(read_end)
    os.close(write_end)  # the supervisor is gone: its end of the go pipe closed
    out, err = child.communicate(timeout=60)
    assert child.returncode == 1 and "served" not in out
    assert "supervisor went away before this standby was promoted" in err


def test_standbys_that_keep_dying_are_given_up_and_the_daemon_keeps_serving(tmp_path, stop_after):
    import time

    marker = tmp_path / "served-once"
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    # The first instance serves; every later one (a standby) dies while preparing.
    daemon = (f"import pathlib, sys; p = pathlib.Path({str(marker)!r})\n"
              f"if p.exists(): sys.exit(4)\n"
              f"p.touch()\n" + STANDBY_DAEMON)
    sup = supervised(tmp_path, [sys.executable, "-c", daemon], "--standby", "--max-restarts", "3",
                     "--listen", f"tcp:127.0.0.1:{port}", "--ready-url", url)
    stop_after(sup)
    process.wait_ready(sup, lambda: answers(url), 30, "supervised daemon", tmp_path / "supervised.log")
    first = supervise.serving_daemon(sup.pid)
    log = tmp_path / "supervised.log"
    deadline = time.monotonic() + 120
    while "no standby any more" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "no standby any more: 3 standbys died within 60s" in log.read_text()
    assert log.read_text().count("exited (exit code 4)") == 3
    assert sup.alive() and get(url) == str(first)
