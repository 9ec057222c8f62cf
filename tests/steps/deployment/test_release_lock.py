"""The per-model release lock, across real processes: serialized, released by a killed holder, and taken by
`run_deployment` and `rollback_champion` before they touch anything."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from steps.deployment import release_lock as lock_module
from steps.deployment.release_lock import ReleaseLockTimeout, holder, release_lock

PROJECT_ROOT = Path(__file__).resolve().parents[3]

HOLDER = textwrap.dedent("""
    import sys, time
    from steps.deployment.release_lock import release_lock
    model, log, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    with release_lock(model, "test", say=lambda _: None):
        with open(log, "a") as f:
            f.write(f"start {time.time()}\\n")
        print("held", flush=True)
        time.sleep(seconds)
        with open(log, "a") as f:
            f.write(f"end {time.time()}\\n")
""")


def _hold(model: str, log: Path, seconds: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", HOLDER, model, str(log), str(seconds)], cwd=PROJECT_ROOT,
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})


def test_two_releases_of_one_model_run_one_after_the_other(tmp_path):
    log = tmp_path / "log"
    procs = [_hold("lock-model", log, 1.0) for _ in range(2)]
    for proc in procs:
        assert proc.wait(timeout=60) == 0
    events = [line.split() for line in log.read_text().splitlines()]
    assert [kind for kind, _ in events] == ["start", "end", "start", "end"]  # never two starts in a row
    assert float(events[1][1]) <= float(events[2][1])


def test_releases_of_other_models_do_not_wait(tmp_path):
    proc = _hold("model-a", tmp_path / "log", 30.0)
    try:
        assert proc.stdout.readline().strip() == "held"
        with release_lock("model-b", "test", wait=0.0, say=lambda _: None):
            pass
    finally:
        proc.kill()
        proc.wait()


def test_a_killed_holder_releases_the_lock_and_a_waiter_is_told_who_holds_it(tmp_path):
    proc = _hold("killed-model", tmp_path / "log", 60.0)
    try:
        assert proc.stdout.readline().strip() == "held"
        assert holder("killed-model")["pid"] == proc.pid
        heard = []
        with pytest.raises(ReleaseLockTimeout, match=f"pid {proc.pid}"):
            with release_lock("killed-model", "test", wait=0.5, say=heard.append):
                pass
        assert heard and f"pid {proc.pid}" in heard[0]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        with release_lock("killed-model", "test", wait=5.0, say=lambda _: None):
            assert holder("killed-model")["pid"] == os.getpid()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_release_inside_a_release_of_the_same_thread_does_not_deadlock():
    with release_lock("nested-model", "retrain", wait=0.0, say=lambda _: None):
        with release_lock("nested-model", "deploy", wait=0.0, say=lambda _: None):
            pass
        assert holder("nested-model")["action"] == "retrain"


@pytest.mark.parametrize("command", ["deploy", "rollback"])
def test_deploy_and_rollback_take_the_release_lock_first(command, tmp_path, monkeypatch):
    from pipelines.launch import load_deployment_config, prepare_environment, rollback_champion, run_deployment

    prepare_environment()
    config = load_deployment_config(None, {})
    model = "lock-model"
    proc = _hold(model, tmp_path / "log", 60.0)
    try:
        assert proc.stdout.readline().strip() == "held"
        monkeypatch.setattr(lock_module, "WAIT_SECONDS", 0.5)
        with pytest.raises(ReleaseLockTimeout, match=f"model '{model}'.*pid {proc.pid}"):
            (run_deployment if command == "deploy" else rollback_champion)(config, model, say=lambda _: None)
    finally:
        proc.kill()
        proc.wait()
