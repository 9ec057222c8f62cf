"""The process toolkit with real processes: identity before any signal, cleanup on Ctrl-C, a minimal child
environment, and private run-state folders."""

from __future__ import annotations

import dataclasses
import json
import os
import pwd
import signal
import subprocess
import sys

import pytest

from core import process
from core.state import UnsafeDirectoryError, private_dir, state_dir
from stacks.seldon.local_ingress import NginxIngress
from stacks.services.process import ManagedProcess, free_port

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


@pytest.fixture
def sleeper(tmp_path):
    identity = process.spawn(SLEEPER, tmp_path / "sleeper.log")
    yield identity
    process.stop(identity, grace=2.0)


def _foreign_session_leader() -> subprocess.Popen:
    """Another program that happens to lead its own session (what a reused pid may point at after a reboot)."""
    return subprocess.Popen(SLEEPER, start_new_session=True)


def test_a_recorded_identity_recognises_its_process_and_nothing_else(sleeper):
    assert sleeper.alive() and sleeper.mismatch() is None
    other_start = dataclasses.replace(sleeper, start_ticks=sleeper.start_ticks - 1)
    assert "another time" in other_start.mismatch()
    other_boot = dataclasses.replace(sleeper, boot_id="an-earlier-boot")
    assert other_boot.mismatch() == "recorded before the last reboot"
    assert process.Identity.from_dict(json.loads(json.dumps(sleeper.to_dict()))) == sleeper


def test_a_script_is_recognised_under_its_interpreter(tmp_path):
    script = tmp_path / "daemon"
    script.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(120)\n")
    script.chmod(0o755)
    identity = process.spawn([str(script), "--flag"], tmp_path / "daemon.log")
    try:
        process.wait_ready(identity, lambda: len(process.cmdline(identity.pid)) == 3, 30, "script")
        assert identity.alive()  # /proc shows `<python> <script> --flag`
    finally:
        assert process.stop(identity, grace=2.0)


def test_a_reused_pid_is_never_signalled(sleeper):
    # The record says "pid N", but the process now running as N started at another time or before a reboot.
    # (Each record has its own tag: the tag in a process's environment is proof enough that it is ours.)
    for stale in (dataclasses.replace(sleeper, start_ticks=sleeper.start_ticks - 1, tag="earlier-process"),
                  dataclasses.replace(sleeper, boot_id="an-earlier-boot", tag="earlier-process")):
        assert process.stop(stale, grace=1.0) is False
        assert sleeper.alive(), "a process that did not match the record was signalled"
    assert process.stop(sleeper, grace=5.0) is True
    assert not process.group_members(sleeper.pid)


def test_a_service_pid_file_pointing_at_another_program_is_dropped_not_signalled(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_STATE_DIR", str(tmp_path / "state"))
    foreign = _foreign_session_leader()
    try:
        proc = ManagedProcess("test-reused", free_port())
        proc.pid_file.write_text(str(foreign.pid))  # a bare pid, as older versions wrote it
        assert proc.stop() is False and not proc.running()
        # a record of a process that ran as this pid earlier (started at another time)
        earlier = process.Identity(pid=foreign.pid, start_ticks=process.start_ticks(foreign.pid) - 1,
                                   boot_id=process.boot_id(), argv=tuple(SLEEPER))
        process.save(earlier, proc.pid_file)
        assert proc.stop() is False
        assert foreign.poll() is None, "the other program was killed"
    finally:
        foreign.kill()
        foreign.wait()


def test_ctrl_c_while_waiting_for_readiness_leaves_no_process(tmp_path):
    spawned = []
    real_spawn = process.spawn

    def spawn_and_remember(*args, **kwargs):
        spawned.append(real_spawn(*args, **kwargs))
        return spawned[-1]

    def interrupted() -> bool:
        raise KeyboardInterrupt

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(process, "spawn", spawn_and_remember)
        with pytest.raises(KeyboardInterrupt):
            process.launch(SLEEPER, tmp_path / "l.log", ready=interrupted, timeout=30, what="sleeper")
    assert spawned and not process.group_members(spawned[0].pid)


def test_ctrl_c_while_a_service_starts_leaves_no_process(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_STATE_DIR", str(tmp_path / "state"))
    proc = ManagedProcess("test-interrupted", free_port(), argv=SLEEPER)
    seen = []

    def interrupted() -> bool:
        seen.append(process.load(proc.pid_file))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        proc.start(ready=interrupted, timeout=30)
    assert seen[0] is not None and not process.group_members(seen[0].pid)
    assert not proc.pid_file.exists()


def test_children_get_no_tracking_credentials(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "s3cret-value")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "also-secret")
    dump = tmp_path / "env.json"
    code = f"import json, os, time; json.dump(dict(os.environ), open({str(dump)!r}, 'w')); time.sleep(60)"
    identity = process.spawn([sys.executable, "-c", code], tmp_path / "env.log", env={"EXPLICIT": "1"})
    process.wait_ready(identity, dump.exists, 30, "env dump")
    process.stop(identity, grace=2.0)
    env = json.loads(dump.read_text())
    assert not {"MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_USERNAME", "AWS_SECRET_ACCESS_KEY"} & set(env)
    assert env["EXPLICIT"] == "1" and env["PATH"] == os.environ["PATH"]
    assert env[process.TAG_ENV] == identity.tag


def test_the_group_is_stopped_through_tagged_members_when_the_leader_is_gone(tmp_path):
    # The leader (think: a supervisor killed with -9) exits; its child keeps running in the group.
    script = ("import subprocess, sys, time; "
              "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); time.sleep(120)")
    leader = process.spawn([sys.executable, "-c", script], tmp_path / "leader.log")
    process.wait_ready(leader, lambda: len(process.group_members(leader.pid)) == 2, 30, "leader and child")
    os.kill(leader.pid, signal.SIGKILL)
    with pytest.raises(process.ProcessError, match="exited"):
        process.wait_ready(leader, lambda: False, 30, "leader")
    orphans = [p for p in process.group_members(leader.pid) if p != leader.pid]
    assert orphans and process.stop(leader, grace=5.0) is True
    assert not process.group_members(leader.pid)


def test_private_folders_are_created_0700_and_loose_ones_tightened(tmp_path, monkeypatch):
    created = private_dir(tmp_path / "a" / "b")
    assert created.stat().st_mode & 0o777 == 0o700
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o777)
    loose.chmod(0o777)
    assert private_dir(loose).stat().st_mode & 0o777 == 0o700
    monkeypatch.setenv("MLOPS_STATE_DIR", str(loose / "state"))
    (loose / "state").mkdir(mode=0o755)
    (loose / "state").chmod(0o755)
    assert state_dir().stat().st_mode & 0o777 == 0o700


def test_a_folder_of_another_user_or_a_symlink_is_refused(tmp_path):
    target = tmp_path / "real"
    target.mkdir()
    link = tmp_path / "planted"
    link.symlink_to(target)
    with pytest.raises(UnsafeDirectoryError, match="symlink"):
        private_dir(link)
    if os.geteuid() != 0:
        pytest.skip("changing a folder's owner needs root")
    foreign = tmp_path / "foreign"
    foreign.mkdir(mode=0o700)
    os.chown(foreign, pwd.getpwnam("nobody").pw_uid, -1)
    with pytest.raises(UnsafeDirectoryError, match="not to you"):
        private_dir(foreign)


def test_the_ingress_refuses_a_socket_folder_planted_by_another_user(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("changing a folder's owner needs root")
    ingress = NginxIngress(tmp_path / "ingress")
    ingress.sockets.mkdir(mode=0o777)
    try:
        os.chown(ingress.sockets, pwd.getpwnam("nobody").pw_uid, -1)
        with pytest.raises(UnsafeDirectoryError, match=str(ingress.sockets)):
            ingress.socket_paths("abc")
    finally:
        ingress.sockets.rmdir()
