"""Read-only commands without ZenML (stacks/fast_paths.py): the fast answer equals ZenML's, and any change to what
it was recorded from (store, active stack, environment) sends the command down the full path.

A real ZenML store (isolated by tests/conftest.py) with the real `local` stack registered through `stacks.manage.use`.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest

from stacks import fast_paths
from serving.identity import ModelIdentity
from stacks.seldon.spec import ModelDeploymentSpec

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("zenml", "mlflow", "sklearn", "whylogs", "sqlalchemy", "pandas")


@pytest.fixture(scope="module")
def local_stack():
    from stacks.manage import use

    use("local", say=lambda _: None)
    assert fast_paths.current_record() is not None
    return "local"


@pytest.fixture()
def recorded(local_stack):
    """A current record of the local stack (re-recorded after earlier tests wrote the store)."""
    assert fast_paths.record_active_stack(local_stack)
    yield local_stack
    fast_paths.record_active_stack(local_stack)


@pytest.fixture()
def registry_entries(recorded):
    """Two deployments in the local backend's registry: one stopped, one whose daemon died."""
    from stacks.seldon.backends import make_backend

    backend = make_backend(dict(fast_paths.current_record()["model_deployer"]))
    with backend.registry.update() as data:
        for name, state, version in (("churn", "stopped", "3"), ("iris", "active", "1")):
            spec = ModelDeploymentSpec(name=name, model=ModelIdentity(f"{name}-model", version, uri=f"/models/{name}",
                                                                      run_id=f"run-{name}"))
            data["deployments"][name] = {"state": state, "spec": dataclasses.asdict(spec),
                                         "updated_at": "2026-12-01T00:00:00+00:00",
                                         "instance": {"pid": 999999, "url": "http://127.0.0.1:1/x"}}
        data["ingress"]["port"] = 18080
    yield backend
    with backend.registry.update() as data:
        data["deployments"].clear()
        data["ingress"].clear()


def slow_deployments():
    from steps.deployment.rollout import active_deployer

    return active_deployer().list_deployments()


def test_stack_list_fast_equals_slow(recorded):
    from stacks.manage import active_stack, list_stacks, remember_active

    assert fast_paths.active_stack() == active_stack() == "local"
    assert fast_paths.stack_rows() is None  # no full listing yet
    rows = list_stacks()
    remember_active()
    fast_paths.remember_stack_rows(rows)
    assert fast_paths.stack_rows() == rows == list_stacks()


def test_deployments_fast_equals_slow(registry_entries):
    stack, rows = fast_paths.local_deployments()
    assert stack == "local"
    assert [(r.name, r.state) for r in rows] == [("churn", "stopped"), ("iris", "failed")]
    assert rows == slow_deployments()


def test_a_store_write_makes_the_record_stale_until_recorded_again(registry_entries):
    """A deployer changed behind run.py's back (`zenml model-deployer update`): never the old answer."""
    from zenml.client import Client
    from zenml.enums import StackComponentType

    client = Client()
    client.update_stack_component("local-seldon", StackComponentType.MODEL_DEPLOYER,
                                  configuration={"backend": "local", "host": "127.0.0.2"})
    try:
        assert fast_paths.current_record() is None
        assert fast_paths.local_deployments() is None and fast_paths.active_stack() is None
        # Recording reads the store, not this process's client, which keeps its stack (and deployer) cached.
        assert fast_paths.record_active_stack("local")
        _, rows = fast_paths.local_deployments()
        assert [r.url for r in rows] == [f"http://127.0.0.2:18080/seldon/local/{n}/api/v1.0/predictions"
                                         for n in ("churn", "iris")]
    finally:
        client.update_stack_component("local-seldon", StackComponentType.MODEL_DEPLOYER,
                                      configuration={"backend": "local", "host": "127.0.0.1"})


def test_another_active_stack_makes_the_record_stale(recorded):
    from zenml.client import Client

    from stacks.manage import active_stack, use

    Client().activate_stack("default")
    try:
        assert fast_paths.active_stack() is None and fast_paths.local_deployments() is None
        assert active_stack() == "default"
    finally:
        use("local", say=lambda _: None)
    assert fast_paths.active_stack() == "local"


def test_environment_changes_and_other_stacks_fall_back(recorded, monkeypatch):
    assert fast_paths.local_deployments("server") is None  # `--stack server` would activate it first
    assert fast_paths.local_deployments("local") is not None
    monkeypatch.setenv("MLOPS_LOCAL_SOMETHING", "1")  # a spec setting: the spec may resolve differently
    assert fast_paths.current_record() is None
    monkeypatch.delenv("MLOPS_LOCAL_SOMETHING")
    assert fast_paths.current_record() is not None
    fast_paths.cache_path().unlink()
    assert fast_paths.current_record() is None and fast_paths.local_deployments() is None


def test_a_stack_that_is_not_active_is_not_recorded(recorded):
    assert not fast_paths.record_active_stack("server")
    assert not fast_paths.cache_path().exists()


def test_the_exit_refresh_records_after_this_process_wrote_the_store(recorded):
    from zenml.client import Client

    Client().create_tag(name="fast-paths-refresh")  # any store write
    assert fast_paths.current_record() is None
    fast_paths.refresh_record()
    assert fast_paths.active_stack() == "local"


def imports_of(*args: str, cwd: Path) -> tuple:
    """(stdout, heavy top-level packages imported) of `python -X importtime run.py ARGS`."""
    proc = subprocess.run([sys.executable, "-X", "importtime", str(ROOT / "run.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    modules = re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*([\w.]+)$", proc.stderr, re.MULTILINE)
    return proc.stdout, sorted({m.split(".")[0] for m in modules} & set(HEAVY))


def test_cli_lists_without_importing_zenml_when_the_record_is_current(registry_entries, tmp_path):
    output, heavy = imports_of("deployments", cwd=tmp_path)
    assert heavy == []
    assert "stack: local" in output and re.search(r"churn\s+churn-model v3\s+stopped", output), output
    full, heavy = imports_of("stack", "list", cwd=tmp_path)  # the first full listing is kept for the next one
    assert "zenml" in heavy
    output, heavy = imports_of("stack", "list", cwd=tmp_path)
    assert heavy == [] and re.search(r"^\* local ", output, re.MULTILINE) and output == full, output


@pytest.mark.integration
def test_cli_fast_answer_equals_the_full_path(registry_entries, tmp_path):
    """The same command twice: first without a record (ZenML answers and records), then from the record."""
    fast_paths.cache_path().unlink()
    slow_output, heavy = imports_of("deployments", cwd=tmp_path)
    assert "zenml" in heavy
    fast_output, heavy = imports_of("deployments", cwd=tmp_path)
    assert heavy == [] and fast_output == slow_output
    assert "bring one back: python run.py deployments start churn" in fast_output
