"""Stack spec files: shipped specs parse, malformed ones are named."""

import pytest

import stacks.spec as spec_module
from stacks.spec import StackSpecError, available_stacks, load_stack_spec


def test_local_spec_has_the_promised_components():
    spec = load_stack_spec("local", {"state_dir": "/tmp/state"})
    assert {c.type for c in spec.components} >= {
        "orchestrator", "artifact_store", "experiment_tracker", "model_registry", "data_validator", "model_deployer",
        "alerter",
    }
    assert spec.component("artifact_store").configuration["path"] == "/tmp/state/artifacts"
    assert spec.component("experiment_tracker").configuration["tracking_uri"] == "sqlite:////tmp/state/mlflow/mlflow.db"


def test_every_shipped_spec_parses():
    for name in available_stacks():
        assert load_stack_spec(name, {"state_dir": "/s", "project_root": "/p"}).components


def test_unknown_stack_lists_the_available_ones():
    with pytest.raises(StackSpecError, match="unknown stack 'nope'.*available stacks: .*local"):
        load_stack_spec("nope")


def test_malformed_spec_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(spec_module, "STACKS_DIR", tmp_path)
    (tmp_path / "broken.yaml").write_text("components:\n  orchestrator: {name: o}\n")
    with pytest.raises(StackSpecError, match="component 'orchestrator' needs a 'name' and a 'flavor'"):
        load_stack_spec("broken")
    (tmp_path / "weird.yaml").write_text("components:\n  toaster: {name: t, flavor: f}\n")
    with pytest.raises(StackSpecError, match="unknown component type 'toaster'"):
        load_stack_spec("weird")
