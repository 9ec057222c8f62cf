"""The local Seldon backend with real daemons and a real nginx: deploy, blue/green under traffic, failure, teardown."""

from __future__ import annotations

import http.client
import os
import signal
import json
import shutil
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from core import supervise
from serving.identity import ModelIdentity
from stacks.seldon import local_process
from stacks.seldon.local_backend import LocalSeldonBackend
from stacks.seldon.spec import DeploymentError, ModelDeploymentSpec
from tests.serving.conftest import no_processes_left_behind, serving_python  # noqa: F401  (session fixtures)
from tests.serving.model_factory import train_and_save

pytestmark = pytest.mark.integration

ROW = {"age": 42, "income": 50000.0, "tenure_months": 12, "balance": 100.0, "job": "admin", "region": "north"}


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("backend-models")
    train_and_save(root / "v1", "logreg", "str", n_rows=300)
    train_and_save(root / "v2", "rf", "str", n_rows=300)
    broken = root / "broken"
    shutil.copytree(root / "v1", broken)
    (broken / "model.skops").write_bytes(b"not a skops archive")
    return root


@pytest.fixture()
def backend(serving_python, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("MLOPS_STATE_DIR", str(tmp_path / "state"))
    logs = []
    b = LocalSeldonBackend(port_range=(24000, 24999), workers=1, threads=2, root=tmp_path / "seldon-local",
                           log=logs.append)
    b.messages = logs
    yield b
    pids = [i.details.get("pid") for i in b.list()]
    ingress_pid = b.registry.read()["ingress"].get("pid")
    for info in b.list():
        b.delete(info.name)
    for pid in pids + [ingress_pid]:
        assert not pid or not local_process.group_members(pid), f"process group {pid} left behind"


def spec(model_dirs: Path, version: str, name: str = "churn") -> ModelDeploymentSpec:
    return ModelDeploymentSpec(name=name, model=ModelIdentity("churn-model", version, uri=str(model_dirs / version)))


def predict(url: str, conn: http.client.HTTPConnection = None):
    """POST one row; returns (status, model_version). Uses `conn` (keep-alive) or a fresh connection."""
    parts = urlparse(url)
    own = conn is None
    conn = conn or http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("POST", parts.path, body=json.dumps({"jsonData": ROW}),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        body = json.loads(resp.read())
        return resp.status, (body.get("meta") or {}).get("tags", {}).get("model_version")
    finally:
        if own:
            conn.close()


def test_deploy_serves_on_a_stable_url_and_survives_a_new_backend_object(backend, model_dirs):
    info = backend.deploy(spec(model_dirs, "v1"))
    assert info.state == "active" and info.url.startswith("http://127.0.0.1:")
    assert info.url.endswith("/seldon/local/churn/api/v1.0/predictions")
    assert predict(info.url) == (200, "v1")
    # another process (a later CLI call) sees the same deployment through the registry
    again = LocalSeldonBackend(root=backend.root)
    assert [(d.name, d.state, d.url) for d in again.list()] == [("churn", "active", info.url)]
    status, body = local_process.http_get(info.details["metrics_url"])
    assert status == 200 and b"model_requests_total" in body
    assert any("loaded churn-model version v1" in line for line in backend.logs("churn"))


def test_blue_green_redeploy_under_traffic_loses_no_request(backend, model_dirs):
    info = backend.deploy(spec(model_dirs, "v1"))
    results, stop = {}, threading.Event()

    def stream(key, keep_alive):
        results[key] = out = []
        parts = urlparse(info.url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30) if keep_alive else None
        while not stop.is_set():
            started = time.monotonic()
            try:
                out.append((started, *predict(info.url, conn)))
            except Exception as exc:  # a lost request: connection refused/reset/closed or timeout
                out.append((started, type(exc).__name__, None))
                if conn is not None:
                    conn.close()

    # two clients reuse one connection each (keep-alive), two open a fresh connection per request
    clients = [threading.Thread(target=stream, args=(i, i % 2 == 0)) for i in range(4)]
    for c in clients:
        c.start()
    time.sleep(1.0)
    verified = []
    new = backend.deploy(spec(model_dirs, "v2"), verify=verified.append)
    switched = time.monotonic()
    time.sleep(1.0)
    stop.set()
    for c in clients:
        c.join()
    assert new.url == info.url, "the stable URL changed"
    assert verified and verified[0] != info.url, "verify must see the candidate's own URL, not the live one"
    everything = [r for out in results.values() for r in out]
    failures = [r for r in everything if r[1] != 200]
    assert not failures, f"{len(failures)} of {len(everything)} requests failed during the switch: {failures[:5]}"
    assert all(out[0][2] == "v1" for out in results.values()), "the stream must start on the old model"
    after = {v for t, _, v in everything if t > switched}
    assert after == {"v2"}, f"requests sent after the switch returned were answered by {after}"
    assert len(everything) > 30, "the request stream was too thin to prove anything"
    assert not local_process.group_members(info.details["pid"]), "the old model daemon still runs"


def test_a_failing_new_model_leaves_the_old_one_serving(backend, model_dirs):
    info = backend.deploy(spec(model_dirs, "v1"))
    with pytest.raises(DeploymentError, match="not a readable skops file|still serving"):
        backend.deploy(spec(model_dirs, "broken"), timeout=60)
    assert predict(info.url) == (200, "v1")

    def reject(url):
        raise AssertionError("endpoint/offline parity failed")

    with pytest.raises(DeploymentError, match="parity failed.*version v1 is still serving"):
        backend.deploy(spec(model_dirs, "v2"), verify=reject)
    assert predict(info.url) == (200, "v1")
    current = backend.status("churn")
    assert current.state == "active" and current.model_version == "v1"
    running = [p for p in local_process.group_members(current.details["pid"])]
    assert running, "the serving daemon must still run"


def test_stop_start_and_delete(backend, model_dirs):
    info = backend.deploy(spec(model_dirs, "v1"))
    pid = info.details["pid"]
    backend.stop("churn")
    assert backend.status("churn").state == "stopped"
    assert not local_process.group_members(pid)
    started = backend.start("churn")
    assert started.state == "active" and started.url == info.url
    assert predict(started.url) == (200, "v1")
    backend.delete("churn")
    assert backend.status("churn") is None
    assert not local_process.group_members(started.details["pid"])


def test_two_deployments_get_separate_routes(backend, model_dirs):
    a = backend.deploy(spec(model_dirs, "v1", name="alpha"))
    b = backend.deploy(spec(model_dirs, "v2", name="beta"))
    assert a.url != b.url and urlparse(a.url).port == urlparse(b.url).port
    assert predict(a.url) == (200, "v1") and predict(b.url) == (200, "v2")
    backend.delete("alpha")
    assert predict(b.url) == (200, "v2")


def test_a_remote_model_uri_or_a_bad_name_is_refused_with_a_clear_message(backend):
    with pytest.raises(DeploymentError, match="local model directories"):
        backend.deploy(ModelDeploymentSpec(name="x", model=ModelIdentity("m", "1", uri="s3://bucket/model")))
    with pytest.raises(DeploymentError, match="expected a DNS-1123 label"):
        backend.deploy(ModelDeploymentSpec(name="Churn_Model", model=ModelIdentity("m", "1", uri="/x")))


def test_a_candidate_left_by_an_interrupted_deploy_is_stopped(backend, model_dirs, serving_python):  # noqa: F811
    stale = backend._start(spec(model_dirs, "v1"), model_dirs / "v1", serving_python)  # as if the deployer died here
    info = backend.deploy(spec(model_dirs, "v2"))
    assert not local_process.group_members(stale["pid"])
    assert predict(info.url) == (200, "v2")


def test_follow_yields_lines_appended_later(tmp_path):
    log = tmp_path / "daemon.log"
    log.write_text("old line\n")
    lines = local_process.follow(log, ["old line"])
    assert next(lines) == "old line"
    threading.Timer(0.2, lambda: log.open("a").write("new line\n")).start()
    assert next(lines) == "new line"


def _environ(pid: int) -> bytes:
    try:
        return open(f"/proc/{pid}/environ", "rb").read()
    except FileNotFoundError:  # gone meanwhile
        return b""


def _daemon_of(supervisor_pid: int) -> int:
    """The model daemon: the supervisor's child that serves (not its standby)."""
    return supervise.serving_daemon(supervisor_pid)


def _standby_of(supervisor_pid: int) -> int:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        waiting = [p for p in local_process.group_members(supervisor_pid) if supervise.is_standby(p)]
        if waiting:
            return waiting[0]
        time.sleep(0.1)
    raise AssertionError("no standby was prepared beside the daemon")


def _under(pid: int, root: int) -> bool:
    while pid > 1:
        if pid == root:
            return True
        pid = supervise.parent_of(pid)
    return False


def test_a_killed_daemon_is_replaced_by_its_standby_without_credentials(backend, model_dirs, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "tracking-s3cret")  # as configure_mlflow() leaves it
    info = backend.deploy(spec(model_dirs, "v1"))
    supervisor = info.details["pid"]
    first = _daemon_of(supervisor)
    standby = _standby_of(supervisor)  # Seldon imported, model loaded, waiting to be promoted
    old = [p for p in local_process.group_members(supervisor) if p != supervisor and not _under(p, standby)]
    os.kill(first, signal.SIGKILL)
    # The request waits in the supervisor's socket while the daemon restarts: answered, not refused.
    assert predict(info.url) == (200, "v1")
    # the old workers leave (they finish what they have first); then only the new daemon is there
    deadline = time.monotonic() + 120
    while set(old) & set(local_process.group_members(supervisor)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not set(old) & set(local_process.group_members(supervisor)), "the crashed daemon's processes linger"
    assert predict(info.url) == (200, "v1")
    assert _daemon_of(supervisor) == standby, "the prepared standby replaces the killed daemon"
    assert f"promoted the standby pid {standby}" in Path(info.details["log_file"]).read_text()
    assert backend.status("churn").state == "active"
    members = local_process.group_members(supervisor)
    leaked = [p for p in members if b"tracking-s3cret" in _environ(p)]
    assert members and not leaked, "serving processes inherited the tracking password"
    ingress = backend.registry.read()["ingress"]["pid"]
    assert b"tracking-s3cret" not in _environ(ingress)


def test_ctrl_c_during_the_candidate_checks_leaves_no_process(backend, model_dirs):
    seen = []

    def interrupted(url):
        seen.append(backend.registry.read()["deployments"]["churn"]["candidate"]["pid"])
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        backend.deploy(spec(model_dirs, "v1"), verify=interrupted)
    assert seen and not local_process.group_members(seen[0])
    assert "candidate" not in backend.registry.read()["deployments"]["churn"]


def test_an_old_instance_is_recorded_before_the_switch_and_stopped_by_the_next_deploy(backend, model_dirs,
                                                                                       monkeypatch):
    from stacks.seldon import local_backend

    old = backend.deploy(spec(model_dirs, "v1"))

    class DiesWhileDraining:  # the CLI is killed while the old daemon drains after the switch
        @staticmethod
        def sleep(seconds):
            raise KeyboardInterrupt

    monkeypatch.setattr(local_backend, "time", DiesWhileDraining)
    with pytest.raises(KeyboardInterrupt):
        backend.deploy(spec(model_dirs, "v2"))
    monkeypatch.undo()
    entry = backend.registry.read()["deployments"]["churn"]
    assert [r["pid"] for r in entry["retiring"]] == [old.details["pid"]]
    assert local_process.group_members(old.details["pid"]), "the old daemon should still be draining"
    info = backend.deploy(spec(model_dirs, "v1"))
    assert not local_process.group_members(old.details["pid"])
    assert "retiring" not in backend.registry.read()["deployments"]["churn"]
    assert predict(info.url) == (200, "v1")
