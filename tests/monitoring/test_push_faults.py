"""A hung, trickling, closed or failing Pushgateway never hangs or fails a monitoring run: the push gives up within
its bound and the publish path logs one warning line naming the gateway and the way forward.

The gateways are real TCP servers on 127.0.0.1 (threads with sockets); the last test stops a real Pushgateway
process with SIGSTOP and calls the publish step's function."""

import logging
import os
import shutil
import signal
import socket
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

import pytest

from monitoring import local
from monitoring import metrics as m
from monitoring.push import PushgatewayError, publish_monitoring_results, push_monitoring_results
from steps.monitoring.decision import MonitoringDecision
from steps.monitoring.drift import DriftReport

HANG_BOUND_S = 30  # generous: only catches a hang, never times the push
METRICS = {m.DRIFT_SHARE: 0.5}


@contextmanager
def _tcp_gateway(handle: Callable[[socket.socket], None]) -> Iterator[str]:
    """A server on 127.0.0.1 that accepts every connection and gives it to `handle` (in its own thread)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    stop = threading.Event()
    connections = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            connections.append(conn)
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        for conn in connections:
            conn.close()
        server.close()
    assert connections, "the client never connected: the test did not exercise the gateway it meant to"


def _never_answer(conn: socket.socket) -> None:
    """A hung gateway: the kernel accepted the connection, nothing reads or answers it."""


def _trickle(conn: socket.socket) -> None:
    """Answers one header byte every 0.3 s forever, so no single socket read ever times out."""
    try:
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        while True:
            conn.sendall(b"X")
            time.sleep(0.3)
    except OSError:
        return


def _answer_500(conn: socket.socket) -> None:
    try:
        conn.recv(65536)
        body = b"storage\nfull"
        conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                     % (len(body), body))
    except OSError:
        return


def _one_warning(caplog) -> str:
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name == "monitoring.push"]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "\n" not in message and "python run.py monitoring status" in message and "decision is recorded" in message
    return message


def test_push_to_a_hung_gateway_gives_up_with_a_clear_error():
    with _tcp_gateway(_never_answer) as url:
        started = time.monotonic()
        with pytest.raises(PushgatewayError, match=rf"the Pushgateway at {url} did not answer within 1 s"):
            push_monitoring_results(url, "job", METRICS, timeout=1.0)
        assert time.monotonic() - started < HANG_BOUND_S


def test_publish_to_a_hung_gateway_warns_once_and_returns(caplog):
    with _tcp_gateway(_never_answer) as url:
        started = time.monotonic()
        assert publish_monitoring_results(url, "churn", METRICS) == ""  # the default bound, PUSH_TIMEOUT_S
        assert time.monotonic() - started < HANG_BOUND_S
    assert url in _one_warning(caplog)


def test_a_gateway_trickling_its_answer_is_bounded_by_wall_time():
    # Each byte arrives well inside the socket read timeout: only the wall-clock bound ends the push.
    with _tcp_gateway(_trickle) as url:
        started = time.monotonic()
        with pytest.raises(PushgatewayError, match="did not answer within 1 s"):
            push_monitoring_results(url, "job", METRICS, timeout=1.0)
        assert time.monotonic() - started < HANG_BOUND_S


def test_a_refusing_or_failing_gateway_warns_with_the_reason(caplog):
    closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    assert publish_monitoring_results(f"http://127.0.0.1:{port}", "churn", METRICS, timeout=2.0) == ""
    assert f"cannot reach the Pushgateway at http://127.0.0.1:{port}: ConnectionError" in _one_warning(caplog)

    caplog.clear()
    with _tcp_gateway(_answer_500) as url:
        assert publish_monitoring_results(url, "churn", METRICS, timeout=2.0) == ""
    assert f"the Pushgateway at {url} answered HTTP 500: storage full" in _one_warning(caplog)


@pytest.mark.integration
@pytest.mark.skipif(not all(shutil.which(b) for b in local.BINARIES.values()),
                    reason="prometheus / pushgateway / alertmanager missing: run .ci/deps-monitoring.sh")
def test_publish_step_with_a_stopped_pushgateway_process_returns_and_warns(caplog):
    from steps.monitoring.steps import publish_monitoring_metrics

    info = local.up([], prometheus_port=0, pushgateway_port=0, alertmanager_port=0)
    pid = info["pushgateway"]["pid"]
    drift = DriftReport([], 0.0, [], False)
    try:
        os.kill(pid, signal.SIGSTOP)  # hung: its listening socket still accepts, nothing answers
        started = time.monotonic()
        published = publish_monitoring_metrics.entrypoint(
            MonitoringDecision("alert", ["drift"]), drift, drift, None, "churn", 10)
        assert time.monotonic() - started < HANG_BOUND_S
        assert published == ""
        assert info["pushgateway_url"] in _one_warning(caplog)

        os.kill(pid, signal.SIGCONT)  # back: the same step pushes again
        published = publish_monitoring_metrics.entrypoint(
            MonitoringDecision("alert", ["drift"]), drift, drift, None, "churn", 10)
        assert published == f"{info['pushgateway_url']}/metrics/job/batch_monitoring/model_name/churn"
    finally:
        os.kill(pid, signal.SIGCONT)
        local.down()
