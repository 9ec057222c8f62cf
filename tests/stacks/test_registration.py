"""Stack registration converges the ZenML store to the YAML spec: idempotent, and it repairs what is broken."""

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client():
    from pipelines.launch import prepare_environment

    prepare_environment()
    from zenml.client import Client

    return Client()


def _components(client, name):
    stack = client.get_stack(name)
    return {str(t): [c.name for c in comps] for t, comps in stack.components.items()}


def test_registration_is_idempotent_and_activates(client):
    from stacks.registration import register_stack

    register_stack("local", say=lambda _: None)
    first = _components(client, "local")
    said = []
    register_stack("local", say=said.append)
    assert said == [] and _components(client, "local") == first
    assert client.active_stack_model.name == "local"
    assert len(first) == 7  # orchestrator, artifact store, tracker, registry, validator, deployer, alerter


def test_a_deleted_stack_and_a_drifted_component_are_repaired(client):
    from zenml.enums import StackComponentType

    from stacks.registration import register_stack

    register_stack("local", say=lambda _: None)
    wanted = client.get_stack_component(StackComponentType.ARTIFACT_STORE, "local-artifact-store").configuration
    client.activate_stack("default")
    client.delete_stack("local")
    client.update_stack_component("local-mlflow-tracker", StackComponentType.EXPERIMENT_TRACKER,
                                  configuration={"tracking_uri": "sqlite:////tmp/somewhere-else.db"})
    said = []
    register_stack("local", say=said.append)
    assert "registering stack 'local'" in said
    assert "updating experiment_tracker 'local-mlflow-tracker' configuration" in said
    tracker = client.get_stack_component(StackComponentType.EXPERIMENT_TRACKER, "local-mlflow-tracker")
    assert tracker.configuration["tracking_uri"].endswith("/mlflow/mlflow.db")
    assert client.get_stack_component(StackComponentType.ARTIFACT_STORE,
                                      "local-artifact-store").configuration == wanted
    assert client.active_stack_model.name == "local"


def test_a_stack_missing_a_component_gets_it_back(client):
    from zenml.enums import StackComponentType

    from stacks.registration import register_stack

    register_stack("local", say=lambda _: None)
    client.update_stack("local", component_updates={StackComponentType.DATA_VALIDATOR: []})
    said = []
    register_stack("local", say=said.append)
    assert "repairing stack 'local' components" in said
    assert _components(client, "local")["data_validator"] == ["local-whylogs"]


def test_the_zenml_cli_sees_the_stack_run_py_activated(client):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from stacks.registration import register_stack

    register_stack("local", say=lambda _: None)
    result = subprocess.run([str(Path(sys.executable).parent / "zenml"), "stack", "describe"], capture_output=True,
                            text=True, timeout=120, env={**os.environ, "COLUMNS": "300"})
    assert result.returncode == 0, result.stderr
    assert "'local' stack" in result.stdout + result.stderr or "local-seldon" in result.stdout
