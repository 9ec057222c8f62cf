"""A stack the user registered with the plain `zenml` CLI runs the pipelines as it is, and one that lacks a component
stops before any step with the command that adds it. Real `zenml` and `run.py` processes on the session's isolated
store (tests/conftest.py); the active stack is never switched by a run."""

from __future__ import annotations

import os
import subprocess
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ZENML = str(Path(sys.executable).parent / "zenml")
TINY_CONFIG = "model: {name: tiny}\ntraining: {estimator: logistic_regression}\nenable_cache: false\n"


def _run(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """A command as a user types it in the project directory (the `zenml` CLI finds the flavors' sources there),
    with the project's environment activated."""
    env = {k: v for k, v in os.environ.items() if k != "ZENML_ACTIVE_STACK_ID"}
    path = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(list(args), cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**env, "PATH": path, "COLUMNS": "300"})


def _ok(result: subprocess.CompletedProcess) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    return output


def _active_stack() -> str:
    """The active stack as a new process sees it (this process's ZenML client caches it)."""
    code = "from zenml.client import Client; print(Client().active_stack_model.name)"
    return _ok(_run(sys.executable, "-c", code)).strip().splitlines()[-1]


@pytest.fixture(scope="module")
def client(session_dir):
    """`run.py stack list` registers the project's flavors; then the user's own stacks, with the `zenml` CLI only."""
    from pipelines.launch import prepare_environment

    prepare_environment()
    listing = _ok(_run(sys.executable, "run.py", "stack", "list"))
    assert "default " in listing and "local " in listing
    tracking = f"sqlite:///{session_dir / 'own-mlflow.db'}"
    _ok(_run(ZENML, "experiment-tracker", "register", "own_tracker", "--flavor=mlflow", f"--tracking_uri={tracking}"))
    _ok(_run(ZENML, "model-deployer", "register", "own_seldon", "--flavor=project_seldon", "--backend=local"))
    _ok(_run(ZENML, "data-validator", "register", "own_whylogs", "--flavor=project_whylogs"))
    _ok(_run(ZENML, "stack", "register", "mystack", "-o", "default", "-a", "default", "-e", "own_tracker",
             "-d", "own_seldon", "-dv", "own_whylogs"))
    _ok(_run(ZENML, "stack", "register", "nodeployer", "-o", "default", "-a", "default", "-e", "own_tracker"))
    from zenml.client import Client

    return Client()


@pytest.fixture()
def small_csv(tmp_path):
    path = tmp_path / "small.csv"
    path.write_text("a,b,y\n" + "".join(f"{i % 17},{(i * 7) % 11},{int(i % 17 > 8)}\n" for i in range(200)))
    (tmp_path / "tiny.yaml").write_text(TINY_CONFIG)
    return path


def _runs(client, pipeline: str) -> int:
    try:
        return len(client.get_pipeline(pipeline).runs)
    except KeyError:
        return 0


def test_own_stack_runs_a_training_and_the_active_stack_stays(client, small_csv):
    import mlflow

    active = _active_stack()
    assert active != "mystack"
    output = _ok(_run(sys.executable, "run.py", "train", "--stack", "mystack", "--data", str(small_csv), "--target",
                      "y", "--model-name", "own-stack-model", "--config", str(small_csv.parent / "tiny.yaml")))
    assert f"running on stack 'mystack' for this command; the active stack stays '{active}'" in output
    run = client.get_pipeline("training_pipeline").last_run
    assert run.stack.name == "mystack" and str(run.status).endswith("completed")
    assert _active_stack() == active
    tracker = client.get_stack("mystack").components
    uri = [c for t, c in tracker.items() if str(t) == "experiment_tracker"][0][0].configuration["tracking_uri"]
    assert mlflow.MlflowClient(tracking_uri=uri).get_registered_model("own-stack-model").name == "own-stack-model"


def test_an_active_own_stack_is_used_not_switched_to_local(client):
    before = _active_stack()
    _ok(_run(ZENML, "stack", "set", "mystack"))
    try:
        output = _ok(_run(sys.executable, "run.py", "deployments"))
        assert "stack: mystack" in output and "running on stack" not in output
        assert _active_stack() == "mystack"
    finally:
        _ok(_run(ZENML, "stack", "set", before))


def test_a_stack_without_a_model_deployer_fails_before_any_step_with_the_command_that_adds_it(client, small_csv):
    before = (_runs(client, "training_pipeline"), _runs(client, "deployment_pipeline"))
    result = _run(sys.executable, "run.py", "all", "--stack", "nodeployer", "--data", str(small_csv),
                  "--target", "y", "--config", str(small_csv.parent / "tiny.yaml"))
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "stack 'nodeployer' cannot run the training and deployment pipeline(s):" in output
    assert "no model_deployer: the deployment pipeline needs one of flavor 'project_seldon'" in output
    # The suggested name is a free one (other tests of the session may have taken "seldon"), used consistently.
    found = re.search(r"zenml model-deployer register (\S+) --flavor=project_seldon --backend=local && "
                      r"zenml stack update nodeployer -d (\S+)", output)
    assert found and found.group(1) == found.group(2), output[-3000:]
    command = found.group(0)
    assert re.search(r"or reuse the registered one: zenml stack update nodeployer -d \S*seldon", output)
    assert "Traceback" not in output
    assert (_runs(client, "training_pipeline"), _runs(client, "deployment_pipeline")) == before

    _ok(_run("bash", "-c", command))  # the printed command works as given
    deployer = [c for t, c in client.get_stack("nodeployer").components.items() if str(t) == "model_deployer"]
    assert deployer[0][0].flavor_name == "project_seldon"


def test_list_and_show_cover_the_users_own_stacks(client):
    from stacks.commands import stack

    listing = CliRunner().invoke(stack, ["list"])
    assert listing.exit_code == 0, listing.output
    rows = {line[2:].split()[0]: line[2:] for line in listing.output.splitlines()}  # without the active marker
    assert rows["mystack"].split()[1] == "zenml" and "[runs: training, deployment, monitoring]" in rows["mystack"]
    assert rows["local"].split()[1] == "project"
    assert sum(line.startswith("*") for line in listing.output.splitlines()) == 1
    shown = CliRunner().invoke(stack, ["show", "mystack"])
    assert shown.exit_code == 0, shown.output
    assert "flavor: project_seldon" in shown.output and "own_tracker" in shown.output
    assert "ready to use" in shown.output


def test_stack_use_activates_a_users_own_stack(client):
    from stacks.commands import stack

    before = client.active_stack_model.name
    try:
        used = CliRunner().invoke(stack, ["use", "mystack"])
        assert used.exit_code == 0, used.output
        assert client.active_stack_model.name == "mystack"
        unknown = CliRunner().invoke(stack, ["use", "nostack"])
        assert unknown.exit_code == 1 and "unknown stack 'nostack': not a registered ZenML stack" in unknown.output
    finally:
        client.activate_stack(before)


def test_a_fresh_store_runs_on_local_and_says_so(tmp_path):
    """ZenML's untouched `default` stack is the one the project replaces: nobody chose it and it cannot train."""
    env = {**os.environ, "ZENML_CONFIG_PATH": str(tmp_path / "zenml"), "ZENML_REPOSITORY_PATH": str(tmp_path / "repo"),
           "MLOPS_STATE_DIR": str(tmp_path / "state")}
    (tmp_path / "repo").mkdir()
    result = subprocess.run([sys.executable, "run.py", "deployments"], cwd=ROOT, capture_output=True, text=True,
                            timeout=600, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "the active stack is ZenML's initial 'default' stack" in output
    assert "stack: local" in output
    code = "from zenml.client import Client; print(Client().active_stack_model.name)"
    active = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env=env).stdout.strip().splitlines()[-1]
    assert active == "local"
