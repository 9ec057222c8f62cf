"""Stack CLI and prerequisites without servers: specs and their settings, what `use` checks and how it fails,
and the process lifecycle the local services rely on."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from core import process
from stacks import prerequisites
from stacks.prerequisites import StackNotReady
from stacks.services.process import ManagedProcess, ServiceError, free_port, port_open
from stacks.spec import StackSpecError, available_stacks, load_stack_spec
from tests.stacks.service_env import PROJECT_ROOT

# Fields that hold credentials in ZenML flavor configs (mlflow, s3); `model_storage_secret` only names a k8s Secret.
SECRET_FIELDS = {"key", "secret", "token", "password", "tracking_username", "tracking_password", "tracking_token"}


def test_the_three_stacks_ship():
    assert {"local", "server", "kubernetes"} <= set(available_stacks())


def test_server_spec_uses_its_settings_and_environment_overrides(monkeypatch):
    spec = load_stack_spec("server", {"state_dir": "/s"})
    assert spec.services == ["postgresql", "mlflow", "zenml"]
    assert spec.component("experiment_tracker").configuration["tracking_uri"] == "http://127.0.0.1:5055"
    monkeypatch.setenv("MLOPS_SERVER_MLFLOW_PORT", "6123")
    spec = load_stack_spec("server", {"state_dir": "/s"})
    assert spec.settings["mlflow_port"] == "6123"
    assert spec.component("experiment_tracker").configuration["tracking_uri"] == "http://127.0.0.1:6123"


def test_kubernetes_spec_has_the_promised_components():
    spec = load_stack_spec("kubernetes", {"state_dir": "/s"})
    flavors = {c.type: c.flavor for c in spec.components}
    assert flavors == {
        "orchestrator": "kubernetes", "artifact_store": "s3", "experiment_tracker": "mlflow",
        "model_registry": "mlflow", "data_validator": "project_whylogs", "model_deployer": "project_seldon",
        "container_registry": "default", "image_builder": "local", "alerter": "project_webhook",
    }
    assert spec.component("model_deployer").configuration["backend"] == "kubernetes"
    assert "kube_context:mlops" in spec.requires and "docker" in spec.requires


@pytest.mark.parametrize("name", ["local", "server", "kubernetes"])
def test_no_credential_is_written_in_a_spec(name):
    """Every credential-like field is a ZenML secret reference `{{secret.key}}`, never a value."""
    spec = load_stack_spec(name, {"state_dir": "/s"})
    for component in spec.components:
        for field, value in component.configuration.items():
            if field in SECRET_FIELDS:
                assert re.fullmatch(r"\{\{[a-z0-9_]+\.[a-z0-9_]+\}\}", str(value)), f"{component.name}.{field}"


# -- prerequisites -----------------------------------------------------------------------------------------------


def _spec_requiring(*requires: str):
    import dataclasses

    return dataclasses.replace(load_stack_spec("kubernetes", {"state_dir": "/s"}), requires=list(requires))


def _kubeconfig(tmp_path, server: str, context: str = "mlops"):
    path = tmp_path / "kubeconfig"
    path.write_text(textwrap.dedent(f"""\
        apiVersion: v1
        kind: Config
        clusters: [{{name: c1, cluster: {{server: "{server}"}}}}]
        contexts: [{{name: {context}, context: {{cluster: c1, user: u1}}}}]
        users: [{{name: u1, user: {{}}}}]
        """))
    return path


def test_kube_context_requirement_names_what_is_wrong(tmp_path, monkeypatch):
    spec = _spec_requiring("kube_context:mlops")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    assert prerequisites.missing(spec) == [
        f"no kubeconfig (looked for {tmp_path / 'absent'}; set KUBECONFIG or see docs/runbook-kubernetes.md)"]

    monkeypatch.setenv("KUBECONFIG", str(_kubeconfig(tmp_path, "https://127.0.0.1:1", context="other")))
    assert "kube context 'mlops' not in" in prerequisites.missing(spec)[0]
    assert "found: other" in prerequisites.missing(spec)[0]

    closed = free_port()
    monkeypatch.setenv("KUBECONFIG", str(_kubeconfig(tmp_path, f"https://127.0.0.1:{closed}")))
    assert f"API server of context 'mlops' unreachable: 127.0.0.1:{closed} does not accept" in \
        prerequisites.missing(spec)[0]

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        monkeypatch.setenv("KUBECONFIG", str(_kubeconfig(tmp_path, f"https://127.0.0.1:{listener.getsockname()[1]}")))
        assert prerequisites.missing(spec) == []


def test_docker_requirement_without_docker(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert prerequisites.missing(_spec_requiring("docker")) == [
        "no Docker engine: the `docker` CLI is not installed (the image builder builds images with Docker)"]


def test_secret_requirement_passes_once_the_secret_exists():
    from zenml.client import Client

    spec = _spec_requiring("secret:test_manage_creds:access_key,secret_key")
    assert prerequisites.missing(spec) == [
        "ZenML secret 'test_manage_creds' lacks access_key, secret_key: "
        "`zenml secret create test_manage_creds --access_key=... --secret_key=...`"]
    Client().create_secret("test_manage_creds", values={"access_key": "a", "secret_key": "b"})
    try:
        assert prerequisites.missing(spec) == []
    finally:
        Client().delete_secret("test_manage_creds")


def test_reachable_and_unknown_requirements():
    closed = free_port()
    problems = prerequisites.missing(_spec_requiring(f"reachable:http://127.0.0.1:{closed}", "teleport:x"))
    assert problems[0].startswith(f"http://127.0.0.1:{closed} unreachable")
    assert "unknown requirement 'teleport:x'" in problems[1]


# -- the CLI -----------------------------------------------------------------------------------------------------


def test_commands_module_imports_only_click_and_the_standard_library():
    code = ("import sys, stacks.commands; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'zenml', 'mlflow', 'yaml', 'pipelines', "
            "'sklearn', 'pandas', 'requests', 'pydantic'}))")
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_use_kubernetes_fails_naming_what_is_missing_and_changes_nothing(monkeypatch, tmp_path):
    from zenml.client import Client

    from stacks.commands import stack

    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")  # no docker CLI in tmp_path; keep python tools
    before = Client().active_stack_model.name
    result = CliRunner().invoke(stack, ["use", "kubernetes"])
    assert result.exit_code == 1
    assert "stack 'kubernetes' cannot run here; missing:" in result.output
    assert "no kubeconfig" in result.output
    assert "ZenML secret 's3_credentials' lacks aws_access_key_id, aws_secret_access_key" in result.output
    assert "ZenML secret 'mlflow_remote' lacks username, password" in result.output
    assert "Traceback" not in result.output
    assert Client().active_stack_model.name == before
    assert not Client().list_stack_components(name="k8s-orchestrator").items  # nothing half-registered


def test_register_stack_refuses_to_activate_a_stack_that_cannot_work(monkeypatch, tmp_path):
    from stacks.registration import register_stack

    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    with pytest.raises(StackNotReady, match="no kubeconfig") as raised:
        register_stack("kubernetes", activate=True, say=lambda _: None)
    assert isinstance(raised.value, StackSpecError)  # run.py prints it as one line


def test_list_and_show():
    from stacks.commands import stack

    listing = CliRunner().invoke(stack, ["list"])
    assert listing.exit_code == 0, listing.output
    assert {line[2:].split()[0] for line in listing.output.splitlines()} >= {"local", "server", "kubernetes"}
    shown = CliRunner().invoke(stack, ["show", "server"])
    assert shown.exit_code == 0, shown.output
    assert "tracking_password: '{{server_stack_mlflow.password}}'" in shown.output
    assert "cannot run here yet:" in shown.output and "service 'mlflow' is stopped" in shown.output


# -- process lifecycle -------------------------------------------------------------------------------------------

SERVER_WITH_CHILD = """
import http.server, subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])  # a worker in the same process group
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), http.server.SimpleHTTPRequestHandler).serve_forever()
"""


def _group(pgid: int) -> list[int]:
    """Live members of a process group (zombies left to a non-reaping init do not count)."""
    out = subprocess.run(["ps", "-o", "pid=,stat=", "-g", str(pgid)], capture_output=True, text=True, check=False)
    return [int(pid) for pid, stat in (line.split() for line in out.stdout.splitlines()) if not stat.startswith("Z")]


def test_managed_process_starts_detached_and_stops_its_whole_group(tmp_path):
    port = free_port()
    script = tmp_path / "server.py"
    script.write_text(SERVER_WITH_CHILD)
    proc = ManagedProcess("test-http", port, argv=[sys.executable, str(script), str(port)])
    try:
        pid = proc.start(ready=lambda: port_open(port), timeout=30)
        assert proc.running() and process.load(proc.pid_file).pid == pid
        assert proc.start(ready=lambda: True) == pid  # idempotent: no second instance
        assert len(_group(pid)) == 2  # server and its worker
        assert proc.stop() is True
        assert _group(pid) == [] and not port_open(port) and not proc.pid_file.exists()
        assert proc.stop() is False
    finally:
        proc.stop()


def test_managed_process_reports_early_exit_with_its_log(tmp_path):
    proc = ManagedProcess("test-crash", free_port(),
                          argv=[sys.executable, "-c", "import sys; print('bad flag --nope'); sys.exit(3)"])
    with pytest.raises(ServiceError, match=r"(?s)test-crash exited with code 3 while starting; log .*bad flag --nope"):
        proc.start(ready=lambda: False, timeout=20)
    assert not proc.pid_file.exists()


def test_managed_process_refuses_a_port_in_use_and_drops_stale_pid_files():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        proc = ManagedProcess("test-busy", port, argv=[sys.executable, "-c", "pass"])
        with pytest.raises(ServiceError, match=f"port 127.0.0.1:{port} is already in use"):
            proc.start(ready=lambda: True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    proc.pid_file.write_text(dead.stdout.strip())
    assert proc.pid() is None and not proc.pid_file.exists()


def test_a_run_on_kubernetes_fails_at_start_naming_what_is_missing(tmp_path):
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "absent"), "MLOPS_STATE_DIR": str(tmp_path / "state")}
    result = subprocess.run([sys.executable, "run.py", "train", "--stack", "kubernetes", "--rows", "600"],
                            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 1
    assert "error: stack 'kubernetes' cannot run here; missing:" in result.stderr
    assert "no kubeconfig" in result.stderr and "Traceback" not in result.stderr
    assert "Step " not in result.stdout  # no pipeline step started


def test_dashboard_on_a_busy_port_names_it():
    from stacks.commands import dashboard

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        result = CliRunner().invoke(dashboard, ["--no-browser", "--port", str(port)])
    assert result.exit_code == 1
    assert f"cannot use port 127.0.0.1:{port}: another program listens there" in result.output
