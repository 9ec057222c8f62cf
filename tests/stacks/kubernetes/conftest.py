"""Fixtures: a fake Kubernetes API server and a KubernetesSeldonBackend pointed at it."""

from __future__ import annotations

import dataclasses
from typing import Any, Iterator

import pytest

from serving.identity import ModelIdentity
from stacks.seldon.spec import ModelDeploymentSpec
from tests.stacks.kubernetes.crd_schema import SELDON_CRD
from tests.stacks.kubernetes.fake_apiserver import FakeKubernetesApi

NAMESPACE = "mlops"
IMAGE = "registry.example.com/mlops/seldon-serving:0.1.0"
INGRESS = "http://ingress.example.com"
KUBERNETES_VERSIONS = ("1.27", "1.30", "1.33")  # schemas every shipped or generated object must pass


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZENML_ANALYTICS_OPT_IN", "false")
    if not SELDON_CRD.is_file():  # vendored with the tests: a missing file means a broken checkout
        pytest.fail(f"SeldonDeployment CRD not found at {SELDON_CRD} (vendored reference data; restore it from git)")


def model_spec(version: int = 1, **changes: Any) -> ModelDeploymentSpec:
    """The spec of registered version `version` of the `credit` model."""
    model = ModelIdentity(name="credit-model", version=str(version), uri=f"s3://mlflow/1/run{version}/artifacts/model",
                          run_id=f"run{version}", data_fingerprint=f"fp{version}", git_commit="abc123")
    if "model_uri" in changes:  # where the model lives is part of its identity
        model = dataclasses.replace(model, uri=changes.pop("model_uri"))
    return ModelDeploymentSpec(**{"name": "credit", "model": model, **changes})


def served_versions(fake: FakeKubernetesApi, name: str = "credit") -> list:
    """(predictor, model_version, traffic, shadow) of what the fake API server stores for `name`."""
    from stacks.seldon.seldon_deployment import predictor_models

    obj = fake.get(NAMESPACE, name)
    return [(m["predictor"], m["model_version"], m["traffic"], m["shadow"]) for m in predictor_models(obj or {})]


@pytest.fixture
def fake_api() -> Iterator[FakeKubernetesApi]:
    with FakeKubernetesApi(ready_after_polls=2, lag_polls=1) as fake:
        yield fake


@pytest.fixture
def backend(fake_api: FakeKubernetesApi) -> Any:
    from stacks.seldon.kubernetes_backend import KubernetesSeldonBackend

    backend = KubernetesSeldonBackend(NAMESPACE, IMAGE, INGRESS, api_client=fake_api.api_client(),
                                      poll_interval=0.01, model_storage_secret="seldon-model-storage",
                                      service_account="mlops-model")
    backend.cluster.settle_seconds = 2.0  # long enough that a test relying on it by accident shows in --durations
    return backend
