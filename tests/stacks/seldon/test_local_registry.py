"""The local deployment registry file: durable atomic writes, and a damaged file gives one clear error."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stacks.seldon.local_registry import Registry, RegistryFileError
from stacks.seldon.spec import DeploymentError

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def _deploy_record(registry: Registry, name: str, version: str) -> None:
    with registry.update() as data:
        data["deployments"][name] = {"state": "active", "spec": {"model_version": version}}


@pytest.mark.parametrize("content", [b'{"deployments": {"churn": {"state": "act', b"\x00\x00\x00\x00",
                                     b"[]", b'{"deployments": []}'])
def test_a_damaged_registry_gives_one_clear_error_with_the_way_back(tmp_path, content):
    registry = Registry(tmp_path)
    _deploy_record(registry, "churn", "1")
    _deploy_record(registry, "churn", "2")
    registry.path.write_bytes(content)  # a torn write, a zeroed block after a crash, a bad hand edit
    for action in (registry.read, lambda: registry.update().__enter__()):
        with pytest.raises(RegistryFileError) as err:
            action()
        assert isinstance(err.value, DeploymentError)  # the CLI shows it in one line, without a traceback
        assert str(registry.path) in str(err.value) and "cp " in str(err.value)
    backup = tmp_path / "registry.json.bak"
    os.replace(backup, registry.path)  # the recovery the message gives
    assert registry.read()["deployments"]["churn"]["spec"]["model_version"] == "1"


def test_a_damaged_registry_without_a_backup_says_how_to_start_over(tmp_path):
    registry = Registry(tmp_path)
    registry.path.write_text("{not json")
    with pytest.raises(RegistryFileError, match="mv .*registry.json.*pgrep"):
        registry.read()


def test_writes_are_synced_to_disk_before_and_after_the_rename(tmp_path, monkeypatch):
    """Write temp, fsync it, rename over the old file, fsync the folder: what survives a power loss."""
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", str(dst)))
        real_replace(src, dst)

    registry = Registry(tmp_path)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    _deploy_record(registry, "churn", "1")
    kinds = [kind for kind, _ in events]
    path = str(registry.path)
    assert ("replace", path) in events
    renamed = events.index(("replace", path))
    assert "fsync" in kinds[:renamed] and events[renamed - 1][1].startswith(str(tmp_path / ".registry.json.tmp"))
    assert ("fsync", str(tmp_path)) in events[renamed + 1:]
    assert json.loads(registry.path.read_text())["deployments"]["churn"]["state"] == "active"
    assert registry.path.stat().st_mode & 0o777 == 0o600


WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from stacks.seldon.local_registry import Registry
    registry = Registry(Path(sys.argv[1]))
    print("writing", flush=True)
    i = 0
    while True:
        i += 1
        with registry.update() as data:
            data["deployments"]["churn"] = {"state": "active", "spec": {"model_version": str(i)}, "pad": "x" * 20000}
""")


def test_a_writer_killed_mid_update_leaves_a_readable_registry(tmp_path):
    for _ in range(5):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], cwd=PROJECT_ROOT,
                                stdout=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
        assert proc.stdout.readline().strip() == "writing"
        while not Registry(tmp_path).path.exists():
            pass
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert Registry(tmp_path).read()["deployments"]["churn"]["state"] == "active"
