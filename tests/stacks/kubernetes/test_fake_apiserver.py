"""The fake API server answers like a Kubernetes API server does, so the backend tests mean something."""

from __future__ import annotations

import copy
import socket

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from stacks.seldon import seldon_deployment as sd
from tests.stacks.kubernetes.conftest import IMAGE, NAMESPACE, model_spec
from tests.stacks.kubernetes.fake_apiserver import FakeKubernetesApi, merge_patch

ARGS = (sd.GROUP, sd.VERSION, NAMESPACE, sd.PLURAL)


@pytest.fixture
def api(fake_api):
    return client.CustomObjectsApi(fake_api.api_client())


def _body(version: int = 1, name: str = "credit"):
    spec = model_spec(version, name=name)
    return sd.desired_deployment(spec, NAMESPACE, sd.ServingOptions(image=IMAGE))


def _status(exc: pytest.ExceptionInfo) -> tuple:
    import json

    body = json.loads(exc.value.body)
    return exc.value.status, body["reason"], body["message"]


def test_create_get_and_server_owned_metadata(api):
    created = api.create_namespaced_custom_object(*ARGS, _body())
    meta = created["metadata"]
    assert meta["generation"] == 1 and meta["resourceVersion"] and meta["uid"]
    assert api.get_namespaced_custom_object(*ARGS, "credit")["metadata"]["uid"] == meta["uid"]


def test_not_found_and_already_exists(api):
    with pytest.raises(ApiException) as missing:
        api.get_namespaced_custom_object(*ARGS, "nope")
    assert _status(missing) == (404, "NotFound", 'seldondeployments.machinelearning.seldon.io "nope" not found')
    api.create_namespaced_custom_object(*ARGS, _body())
    with pytest.raises(ApiException) as exists:
        api.create_namespaced_custom_object(*ARGS, _body())
    assert _status(exists)[:2] == (409, "AlreadyExists")


def test_replace_needs_the_current_resource_version(api):
    created = api.create_namespaced_custom_object(*ARGS, _body())
    with pytest.raises(ApiException) as unversioned:
        api.replace_namespaced_custom_object(*ARGS, "credit", _body(2))
    assert _status(unversioned)[:2] == (422, "Invalid")
    body = _body(2)
    body["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
    updated = api.replace_namespaced_custom_object(*ARGS, "credit", body)
    assert updated["metadata"]["generation"] == 2
    with pytest.raises(ApiException) as stale:  # same, now stale, resourceVersion
        api.replace_namespaced_custom_object(*ARGS, "credit", body)
    assert _status(stale)[:2] == (409, "Conflict")


def test_writes_are_validated_against_the_crd_schema(api):
    body = _body()
    body["spec"]["predictors"][0]["traffic"] = "all"
    with pytest.raises(ApiException) as invalid:
        api.create_namespaced_custom_object(*ARGS, body)
    code, reason, message = _status(invalid)
    assert (code, reason) == (422, "Invalid")
    assert "spec.predictors.0.traffic: 'all' is not of type 'integer'" in message


def test_writes_pass_the_seldon_admission_webhook(api):
    body = _body()
    body["spec"]["predictors"][0]["traffic"] = 60
    body["spec"]["predictors"].append(dict(copy.deepcopy(body["spec"]["predictors"][0]), traffic=30))
    with pytest.raises(ApiException) as denied:
        api.create_namespaced_custom_object(*ARGS, body)
    code, _, message = _status(denied)
    assert code == 422 and 'admission webhook "v1.vseldondeployment.kb.io" denied the request' in message
    assert "Duplicate predictor name 'champion'" in message and "found 90" in message
    stored = api.create_namespaced_custom_object(*ARGS, _body())
    assert stored["spec"]["predictors"][0]["labels"]["version"] == "champion"  # mutating webhook default


def test_unknown_fields_are_pruned_with_a_warning(api, fake_api):
    body = _body()
    body["spec"]["predictors"][0]["graph"]["modelURI"] = "s3://typo"
    stored = api.create_namespaced_custom_object(*ARGS, body)
    assert "modelURI" not in stored["spec"]["predictors"][0]["graph"]
    assert fake_api.warnings == ['unknown field "spec.predictors.0.graph.modelURI"']


def test_status_is_a_subresource_and_generation_follows_spec_changes(api, fake_api):
    fake_api.operator.ready_after_polls = 1
    fake_api.operator.lag_polls = 0
    api.create_namespaced_custom_object(*ARGS, _body())
    assert api.get_namespaced_custom_object(*ARGS, "credit")["status"]["state"] == "Creating"  # pods starting
    current = api.get_namespaced_custom_object(*ARGS, "credit")
    assert current["status"]["state"] == "Available"
    current["status"] = {"state": "Hacked"}
    current["metadata"]["labels"]["extra"] = "label"  # metadata only: no new generation
    updated = api.replace_namespaced_custom_object(*ARGS, "credit", current)
    assert updated["status"]["state"] == "Available" and updated["metadata"]["generation"] == 1


def test_merge_patch(api):
    api.create_namespaced_custom_object(*ARGS, _body())
    patched = api.patch_namespaced_custom_object(*ARGS, "credit", {"metadata": {"labels": {"team": "risk"}}})
    assert patched["metadata"]["labels"]["team"] == "risk"
    assert merge_patch({"a": {"b": 1, "c": 2}}, {"a": {"b": None, "d": 3}}) == {"a": {"c": 2, "d": 3}}


def test_list_with_label_selector(api):
    api.create_namespaced_custom_object(*ARGS, _body(name="credit"))
    other = _body(name="fraud")
    other["metadata"]["labels"] = {"team": "fraud"}
    api.create_namespaced_custom_object(*ARGS, other)
    found = api.list_namespaced_custom_object(*ARGS, label_selector="app.kubernetes.io/managed-by=zenml-mlops")
    assert [item["metadata"]["name"] for item in found["items"]] == ["credit"]


@pytest.mark.parametrize("observed_generation", [False, True])
def test_operator_lags_then_reports_creating_then_available(observed_generation):
    with FakeKubernetesApi(ready_after_polls=3, lag_polls=1, observed_generation=observed_generation) as fake:
        api = client.CustomObjectsApi(fake.api_client())
        api.create_namespaced_custom_object(*ARGS, _body())
        reads = [api.get_namespaced_custom_object(*ARGS, "credit") for _ in range(4)]
        assert [r["status"].get("state") for r in reads] == [None, "Creating", "Available", "Available"]
        versions = [r["metadata"]["resourceVersion"] for r in reads]
        assert versions[0] < versions[1] < versions[2] == versions[3]  # status writes move resourceVersion on
        body = _body(2)
        body["metadata"]["resourceVersion"] = versions[-1]
        api.replace_namespaced_custom_object(*ARGS, "credit", body)
        seen = [(o["status"]["state"], o["status"].get("observedGeneration"), fake.operator.processed["credit"])
                for o in (api.get_namespaced_custom_object(*ARGS, "credit") for _ in range(3))]
    expected = [("Available", 1, 1), ("Creating", 2, 2), ("Available", 2, 2)]
    assert seen == (expected if observed_generation else [(s, None, p) for s, _, p in expected])


def test_stop_releases_the_port():
    fake = FakeKubernetesApi()
    url = fake.start()
    port = int(url.rsplit(":", 1)[1])
    fake.stop()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
