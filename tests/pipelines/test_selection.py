"""Which model a command acts on, and which deployment serves it (no ZenML: the pure rules)."""

import pytest

from pipelines.selection import ModelChoiceError, deployment_for, resolve_model_name
from stacks.seldon.spec import DeploymentInfo


def _dep(name: str, model: str) -> DeploymentInfo:
    return DeploymentInfo(name=name, url=f"http://127.0.0.1/{name}", state="active", model_name=model,
                          model_version="1")


def test_an_explicit_model_wins_when_it_exists():
    assert resolve_model_name("loans", "churn-classifier", ["churn-classifier", "loans"], []) == "loans"


def test_an_unknown_model_is_refused_with_the_choices():
    with pytest.raises(ModelChoiceError) as failure:
        resolve_model_name("lons", "churn-classifier", ["churn-classifier", "loans"], [_dep("loans", "loans")])
    assert "'lons'" in str(failure.value) and "registered: churn-classifier, loans" in str(failure.value)


def test_the_configured_model_is_the_default_when_registered():
    assert resolve_model_name(None, "churn-classifier", ["churn-classifier", "loans"],
                              [_dep("loans", "loans")]) == "churn-classifier"


def test_else_the_only_deployed_model():
    assert resolve_model_name(None, "churn-classifier", ["loans", "wine"], [_dep("loans", "loans")]) == "loans"


def test_else_an_error_that_lists_the_choices():
    with pytest.raises(ModelChoiceError, match="several models are deployed: say which one with --model-name"):
        resolve_model_name(None, "churn-classifier", ["loans", "wine"], [_dep("loans", "loans"), _dep("wine", "wine")])
    with pytest.raises(ModelChoiceError, match="Nothing is registered yet: train one with"):
        resolve_model_name(None, "churn-classifier", [], [])


def test_each_model_has_its_own_deployment():
    deployments = [_dep("loans", "loans"), _dep("wine-endpoint", "wine")]
    assert deployment_for("loans", deployments) == "loans"
    assert deployment_for("wine", deployments) == "wine-endpoint"  # a name chosen on its first deploy is kept
    assert deployment_for("churn-classifier", deployments) == "churn-classifier"  # not deployed yet: derived


def test_registered_names_read_from_sqlite_equal_mlflows(tmp_path, monkeypatch):
    """The read-only SQLite read `predict` uses gives what MLflow's own search gives; anything else is MLflow's."""
    import mlflow

    from pipelines.selection import _registered_in_sqlite, registered_models

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    for name in ("wine-model", "churn-classifier"):
        client.create_registered_model(name)
    from_mlflow = sorted(m.name for m in client.search_registered_models(max_results=1000))
    assert _registered_in_sqlite(uri) == from_mlflow == ["churn-classifier", "wine-model"]
    assert registered_models(uri) == from_mlflow
    assert _registered_in_sqlite(f"sqlite:///{tmp_path / 'missing.db'}") is None  # MLflow creates it
    assert _registered_in_sqlite("http://127.0.0.1:5000") is None
    monkeypatch.setenv("MLFLOW_WORKSPACE", "team-a")
    assert _registered_in_sqlite(uri) is None
