"""Shared fixtures: the serving environment (built once, cached across sessions), trained models, live daemons."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Dict, Iterator

import pytest

from serving.environment import ENV_DIR_ENV, PROJECT_ROOT, ensure_serving_env, microservice_command
from core import process
from serving.identity import ModelIdentity
from stacks.seldon import local_process
from tests.serving.model_factory import train_and_save

os.environ.setdefault("ZENML_ANALYTICS_OPT_IN", "false")
# One serving environment for every test session (it takes a minute to build from a cold package cache);
# everything else a test writes goes to tmp dirs.
SERVING_ENV_CACHE = Path(os.environ.get(ENV_DIR_ENV) or PROJECT_ROOT / ".state" / "serving-env")


def _processes_mentioning(fragments) -> list:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if any(f in cmdline for f in fragments):
                found.append(f"{entry}: {cmdline[:160]}")
    return found


@pytest.fixture(scope="session", autouse=True)
def no_processes_left_behind(tmp_path_factory):
    """After the session, no daemon or nginx started from this session's temp or state dirs may still run."""
    yield
    fragments = [str(tmp_path_factory.getbasetemp())]
    if os.environ.get("MLOPS_STATE_DIR"):
        fragments.append(os.environ["MLOPS_STATE_DIR"])
    if not wait_for(lambda: not _processes_mentioning(fragments), timeout=10):
        pytest.fail(f"processes left behind: {_processes_mentioning(fragments)}")


@pytest.fixture(scope="session")
def serving_python() -> Path:
    os.environ[ENV_DIR_ENV] = str(SERVING_ENV_CACHE)
    return ensure_serving_env(root=SERVING_ENV_CACHE)


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> Dict[str, tuple]:
    """name -> (model dir, fitted model, training frame), built and saved by the training code: string-label HGB,
    int-label logistic regression, random forest (multiclass), ridge regression, and HGB calibrated (sigmoid) as
    the calibration step makes it."""
    root = tmp_path_factory.mktemp("models")
    out = {}
    for name, estimator, labels, calibration in [
        ("hgb_str", "hist_gradient_boosting", "str", None), ("logreg_int", "logistic_regression", "int", None),
        ("rf_str", "random_forest", "str", None), ("ridge", "ridge", "int", None),
        ("hgb_calibrated", "hist_gradient_boosting", "str", "sigmoid"),
    ]:
        model, frame = train_and_save(root / name, estimator, labels, n_rows=400, calibration=calibration)
        out[name] = (root / name, model, frame)
    return out


class Microservice:
    """A real `seldon-core-microservice` process for one model, on free 127.0.0.1 ports."""

    def __init__(self, python: Path, model_dir: Path, log_dir: Path, workers: int = 1, version: str = "1",
                 unix_socket: str = "", metrics_unix_socket: str = "", record_dir: str = "",
                 env: Dict[str, str] = None):
        self.http_port, self.metrics_port = local_process.pick_ports(2, (23000, 23999), ())
        extra_env = env
        argv, env = microservice_command(
            python, model=ModelIdentity("test-model", version, uri=str(model_dir), run_id="run-123",
                                        data_fingerprint="fp-abc", git_commit="deadbeef"), http_port=self.http_port,
            metrics_port=self.metrics_port, workers=workers, threads=2, unix_socket=unix_socket,
            metrics_unix_socket=metrics_unix_socket, record_dir=record_dir,
        )
        env.update(extra_env or {})
        self.log = log_dir / f"ms-{self.http_port}.log"
        self.process = process.spawn(argv, self.log, env=env, marker="serving.launch")
        self.pid = self.process.pid
        self.url = f"http://127.0.0.1:{self.http_port}"
        try:
            local_process.wait_healthy(self.url + "/health/status", self.process, 90.0)
        except RuntimeError as exc:
            self.stop()
            raise RuntimeError(f"{exc}\n{local_process.tail(self.log)}") from None

    def post(self, payload, raw: bytes = None, content_type: str = "application/json", path: str = "",
             method: str = "POST"):
        return post(self.url + (path or "/api/v1.0/predictions"), payload, raw, content_type, method)

    def get(self, path: str, port: int = None):
        return local_process.http_get(f"http://127.0.0.1:{port or self.http_port}{path}", timeout=10)

    def stop(self) -> None:
        process.stop(self.process, grace=10.0)
        assert not local_process.group_members(self.pid), "microservice processes left behind"


@pytest.fixture(scope="module")
def microservice_factory(serving_python, tmp_path_factory) -> Iterator:
    started = []
    log_dir = tmp_path_factory.mktemp("ms-logs")

    def start(model_dir: Path, **kwargs) -> Microservice:
        ms = Microservice(serving_python, model_dir, log_dir, **kwargs)
        started.append(ms)
        return ms

    yield start
    for ms in started:
        ms.stop()


def post(url: str, payload, raw: bytes = None, content_type: str = "application/json", method: str = "POST"):
    """(status, decoded JSON body) of one request; `raw` bytes are sent as they are."""
    body = raw if raw is not None else json.dumps(payload).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": content_type}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def post_chunked(url: str, chunks, content_type: str = "application/json"):
    """(status, decoded JSON body) of a POST whose body is sent chunked (no Content-Length)."""
    import http.client
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.request("POST", parts.path, body=iter(chunks), headers={"Content-Type": content_type},
                     encode_chunked=True)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null")
    finally:
        conn.close()


def run_in_serving_env(python: Path, code: str, timeout: float = 120.0) -> str:
    """Run `code` with the serving environment's python (project root on the path); return stdout."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=timeout, env=env)
    if proc.returncode != 0:
        raise AssertionError(f"serving-env script failed:\n{proc.stderr[-3000:]}")
    return proc.stdout


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()
