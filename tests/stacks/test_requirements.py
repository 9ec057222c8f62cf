"""What each pipeline needs from a stack, and the `zenml` commands the messages give (no ZenML store needed)."""

import pytest

from pipelines.launch import pipelines_for
from stacks.requirements import StackLacksComponents, problems, ready_for, require
from stacks.spec import StackSpecError, available_stacks, load_stack_spec

BARE = {"orchestrator": ("default", "local"), "artifact_store": ("default", "local")}
TRACKER = {"experiment_tracker": ("t", "mlflow")}
DEPLOYER = {"model_deployer": ("d", "project_seldon")}


def test_what_each_pipeline_needs():
    assert ready_for(BARE) == []
    assert ready_for({**BARE, **TRACKER}) == ["training"]
    assert ready_for({**BARE, **DEPLOYER}) == ["monitoring"]
    assert ready_for({**BARE, **TRACKER, **DEPLOYER}) == ["training", "deployment", "monitoring"]


def test_the_data_validator_is_optional_but_must_be_the_projects_flavor():
    assert problems("s", {**BARE, **TRACKER}, ["training"]) == []
    assert problems("s", {**BARE, **TRACKER, "data_validator": ("w", "project_whylogs")}, ["training"]) == []
    [problem] = problems("s", {**BARE, **TRACKER, "data_validator": ("ge", "great_expectations")}, ["training"])
    assert "data_validator 'ge' has flavor 'great_expectations': the training pipeline needs flavor " \
           "'project_whylogs'" in problem
    assert "zenml data-validator register whylogs --flavor=project_whylogs && zenml stack update s -dv whylogs" \
           in problem
    assert "or run without one: zenml stack remove-component s -dv" in problem


def test_a_missing_deployer_names_the_component_its_flavor_and_the_command():
    with pytest.raises(StackLacksComponents) as raised:
        require("mystack", {**BARE, **TRACKER}, ["training", "deployment"], state_dir="/state")
    message = str(raised.value)
    assert isinstance(raised.value, StackSpecError)  # run.py prints it without a traceback
    assert message.startswith("stack 'mystack' cannot run the training and deployment pipeline(s):")
    assert "no model_deployer: the deployment pipeline needs one of flavor 'project_seldon'" in message
    assert "zenml model-deployer register seldon --flavor=project_seldon --backend=local && " \
           "zenml stack update mystack -d seldon" in message
    assert "experiment_tracker" not in message


def test_the_command_picks_a_free_name_and_offers_a_registered_component_of_the_right_flavor():
    registered = {"model_deployer": [("seldon", "mlflow"), ("mine", "project_seldon")],
                  "experiment_tracker": [("mlflow_tracker", "wandb")]}
    found = problems("s", BARE, ["deployment"], registered, state_dir="/state")
    assert ("zenml experiment-tracker register mlflow_tracker_2 --flavor=mlflow "
            "--tracking_uri=sqlite:////state/mlflow/mlflow.db && zenml stack update s -e mlflow_tracker_2") in found[0]
    assert "zenml model-deployer register seldon_2 --flavor=project_seldon" in found[1]
    assert "or reuse the registered one: zenml stack update s -d mine" in found[1]


@pytest.mark.parametrize("name", available_stacks())
def test_every_project_spec_runs_every_pipeline(name):
    spec = load_stack_spec(name, {"state_dir": "/s", "project_root": "/p"})
    assert ready_for({c.type: (c.name, c.flavor) for c in spec.components}) == ["training", "deployment", "monitoring"]


def test_each_command_is_checked_for_every_pipeline_it_may_run():
    assert pipelines_for("", {}) == ("training", "deployment")  # `python run.py` trains, then deploys
    assert pipelines_for("train", {}) == ("training",)
    assert pipelines_for("monitor", {"retrain": True}) == ("monitoring", "training", "deployment")
    assert pipelines_for("monitor", {"retrain": False}) == ("monitoring",)
    assert pipelines_for("stack list", {}) == ()
