"""The `project_seldon` model deployer flavor in an isolated ZenML store (tests/conftest.py), with the local backend.

Registers the flavor the way the stack code does, deploys through the deployer's `deploy`, and checks that
`zenml model-deployer models list/describe` (the real CLI, another process) show the deployment and its URL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from serving.environment import PROJECT_ROOT
from serving.identity import ModelIdentity
from stacks.seldon import local_process
from stacks.seldon.spec import DeploymentError
from tests.serving.conftest import no_processes_left_behind, serving_python  # noqa: F401  (session fixtures)
from tests.serving.model_factory import train_and_save

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def deployer(serving_python, tmp_path_factory):  # noqa: F811
    from stacks.registration import ensure_flavor, ensure_repository
    from zenml.client import Client
    from zenml.enums import StackComponentType

    ensure_repository()
    client = Client()
    ensure_flavor("stacks.seldon.flavor.SeldonModelDeployerFlavor", "model_deployer")  # idempotent in a full run
    client.create_stack_component(
        name="test-seldon", flavor="project_seldon", component_type=StackComponentType.MODEL_DEPLOYER,
        configuration={"backend": "local", "port_range": [25000, 25999], "workers": 1, "threads": 2},
    )
    default = client.get_stack("default")
    client.create_stack(name="seldon-test", components={
        StackComponentType.ORCHESTRATOR: default.components[StackComponentType.ORCHESTRATOR][0].id,
        StackComponentType.ARTIFACT_STORE: default.components[StackComponentType.ARTIFACT_STORE][0].id,
        StackComponentType.MODEL_DEPLOYER: client.get_stack_component(StackComponentType.MODEL_DEPLOYER,
                                                                      "test-seldon").id,
    })
    previous = client.active_stack_model.name
    client.activate_stack("seldon-test")
    deployer = client.active_stack.model_deployer
    yield deployer
    for info in deployer.list_deployments():
        deployer.delete(info.name)
    deployer.backend().shutdown()
    client.activate_stack(previous)


def zenml_cli(*args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "COLUMNS": "400", "ZENML_LOGGING_COLORS_DISABLED": "true"}
    proc = subprocess.run([str(Path(sys.executable).parent / "zenml"), *args], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout + proc.stderr


def test_flavor_config_is_validated():
    from stacks.seldon.flavor import SeldonModelDeployerConfig

    with pytest.raises(ValueError, match="port_range"):
        SeldonModelDeployerConfig(port_range=(9000, 8000))
    with pytest.raises(ValueError, match="canary_traffic_percent"):
        SeldonModelDeployerConfig(canary_traffic_percent=0)
    with pytest.raises(ValueError):
        SeldonModelDeployerConfig(backend="docker")


def test_kubernetes_backend_needs_its_settings():
    from stacks.seldon.backends import make_backend

    with pytest.raises(ValueError, match="namespace, image, ingress_base_url"):
        make_backend({"backend": "kubernetes"})


def test_deploy_is_a_zenml_service_with_its_url(deployer, tmp_path):
    from stacks.seldon.deployer import SeldonModelDeployer

    assert isinstance(deployer, SeldonModelDeployer)
    train_and_save(tmp_path / "m1", "logreg", "str", n_rows=300)
    train_and_save(tmp_path / "m2", "logreg", "int", n_rows=300)
    info = deployer.deploy(deployer.default_spec(name="churn", model=ModelIdentity(
        "churn-model", "1", uri=str(tmp_path / "m1"), run_id="r1")))
    assert info.state == "active"

    listing = zenml_cli("model-deployer", "models", "list")
    assert "churn-model" in listing and "project_seldon" in listing
    services = deployer.find_model_server(service_name="seldon-churn")
    assert len(services) == 1 and services[0].is_running
    uuid = str(services[0].uuid)
    assert uuid in listing
    assert info.url in zenml_cli("model-deployer", "models", "get-url", uuid)
    described = zenml_cli("model-deployer", "models", "describe", uuid)
    assert "PREDICTION_URL" in described and "churn" in described
    assert "loaded churn-model version 1" in zenml_cli("model-deployer", "models", "logs", uuid, "--tail", "50")

    # a redeploy keeps one service record, now for the new version, and the same URL
    new = deployer.deploy(deployer.default_spec(name="churn", model=ModelIdentity(
        "churn-model", "2", uri=str(tmp_path / "m2"))))
    assert new.url == info.url
    services = deployer.find_model_server(service_name="seldon-churn")
    assert [(s.config.model_version, s.prediction_url) for s in services] == [("2", info.url)]
    body = json.dumps({"jsonData": {"age": 1, "income": 1.0, "tenure_months": 1, "balance": 1.0, "job": "admin",
                                    "region": "north"}}).encode()
    request = urllib.request.Request(info.url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as resp:
        assert json.loads(resp.read())["data"]["names"] == ["0", "1", "2"]

    # ZenML's generic stop/start go through the service to the backend
    deployer.stop_model_server(services[0].uuid)
    assert deployer.status("churn").state == "stopped"
    deployer.start_model_server(services[0].uuid)
    assert deployer.status("churn").state == "active"
    assert "loaded churn-model version 2" in "\n".join(services[0].get_logs())

    pid = deployer.status("churn").details["pid"]
    deployer.delete("churn")
    assert deployer.list_deployments() == [] and not deployer.find_model_server(service_name="seldon-churn")
    assert not local_process.group_members(pid)


def test_local_backend_refuses_canary(deployer, tmp_path):
    with pytest.raises(DeploymentError, match="needs the kubernetes backend"):
        deployer.deploy(deployer.default_spec(name="c", model=ModelIdentity("m", "1", uri=str(tmp_path)),
                                              rollout="canary"))
