"""KubernetesSeldonBackend against a stateful fake Kubernetes API server (real HTTP, official client)."""

from __future__ import annotations

import time

import pytest

from stacks.seldon.kubernetes_backend import KubernetesSeldonBackend
from stacks.seldon.spec import DeploymentError
from tests.stacks.kubernetes.conftest import IMAGE, INGRESS, NAMESPACE, model_spec, served_versions
from tests.stacks.kubernetes.crd_schema import crd_errors
from tests.stacks.kubernetes.fake_apiserver import FakeKubernetesApi

URL = f"{INGRESS}/seldon/{NAMESPACE}/credit/api/v1.0/predictions"


def _backend(fake: FakeKubernetesApi) -> KubernetesSeldonBackend:
    backend = KubernetesSeldonBackend(NAMESPACE, IMAGE, INGRESS, api_client=fake.api_client(), poll_interval=0.01)
    backend.cluster.settle_seconds = 2.0
    return backend


def _version_is(version: str):
    """A fake-operator rule matching SeldonDeployments where some predictor serves `version`."""
    return lambda obj: any(p["value"] == version for pr in obj["spec"]["predictors"]
                           for p in pr["graph"]["parameters"] if p["name"] == "model_version")


def test_create_waits_until_available_and_reports_the_ingress_url(backend, fake_api):
    info = backend.deploy(model_spec(1), timeout=10)
    assert (info.name, info.url, info.state, info.model_version) == ("credit", URL, "active", "1")
    stored = fake_api.get(NAMESPACE, "credit")
    assert stored["status"]["state"] == "Available"
    assert crd_errors(dict(stored, status={})) == [] and fake_api.warnings == []  # nothing pruned
    assert [verb for verb, _ in fake_api.requests].count("create") == 1


@pytest.mark.parametrize("observed_generation", [False, True])
def test_update_keeps_name_and_url_and_waits_for_the_new_spec(observed_generation):
    # the operator keeps showing the previous spec's "Available" for three reads after the update
    with FakeKubernetesApi(ready_after_polls=5, lag_polls=3, observed_generation=observed_generation) as fake:
        backend = _backend(fake)
        backend.deploy(model_spec(1), timeout=10)
        uid = fake.get(NAMESPACE, "credit")["metadata"]["uid"]
        info = backend.deploy(model_spec(2), timeout=10)
        stored = fake.get(NAMESPACE, "credit")
        assert stored["metadata"]["uid"] == uid and info.url == URL
        assert stored["metadata"]["generation"] == 2
        assert fake.operator.processed["credit"] == 2, "deploy returned on the previous spec's status"
        assert stored["status"]["state"] == "Available"
    assert served_versions(fake) == [("champion", "2", 100, False)]


def test_a_change_that_leaves_the_status_alone_is_trusted_after_settling(backend, fake_api):
    backend.deploy(model_spec(1), timeout=10)
    backend.deploy(model_spec(2, rollout="canary", canary_traffic_percent=10), timeout=10)
    backend.cluster.settle_seconds = 0.3
    started = time.monotonic()
    # same predictors, new traffic split: Seldon rewrites its VirtualService but not the status
    backend.deploy(model_spec(2, rollout="canary", canary_traffic_percent=30), timeout=10)
    assert time.monotonic() - started >= 0.3
    assert served_versions(fake_api) == [("champion", "1", 70, False), ("challenger", "2", 30, False)]


def test_canary_then_promotion(backend, fake_api):
    backend.deploy(model_spec(1), timeout=10)
    info = backend.deploy(model_spec(2, rollout="canary", canary_traffic_percent=20), timeout=10)
    assert served_versions(fake_api) == [("champion", "1", 80, False), ("challenger", "2", 20, False)]
    assert (info.model_version, info.details["rollout"], info.url) == ("2", "canary", URL)
    backend.deploy(model_spec(2), timeout=10)
    assert served_versions(fake_api) == [("champion", "2", 100, False)]


def test_shadow_adds_a_mirrored_challenger(backend, fake_api):
    backend.deploy(model_spec(1), timeout=10)
    backend.deploy(model_spec(2, rollout="shadow"), timeout=10)
    assert served_versions(fake_api) == [("champion", "1", 100, False), ("challenger", "2", 0, True)]
    assert all(crd_errors(dict(spec=s, apiVersion="machinelearning.seldon.io/v1", kind="SeldonDeployment",
                               metadata={"name": "credit"})) == [] for s in fake_api.history["credit"])


def test_create_that_never_becomes_available_fails_naming_the_reason_and_cleans_up(backend, fake_api):
    reason = "0/1 pods ready: ImagePullBackOff for registry.example.com/mlops/seldon-serving:0.1.0"
    fake_api.operator.stuck = lambda obj: reason
    with pytest.raises(DeploymentError) as raised:
        backend.deploy(model_spec(1), timeout=0.3)
    message = str(raised.value)
    assert "'mlops/credit' not Available after 0.3s (state Creating)" in message
    assert "ImagePullBackOff" in message and "credit-champion-0-model: 0/1 available" in message
    assert "deleted; nothing was serving before" in message
    assert fake_api.get(NAMESPACE, "credit") is None


def test_failed_update_restores_the_previous_model(backend, fake_api):
    backend.deploy(model_spec(1), timeout=10)
    fake_api.operator.stuck = lambda obj: "readiness probe failed: /health/ping 500" if _version_is("2")(obj) else None
    with pytest.raises(DeploymentError, match="readiness probe failed.*previous spec was restored and is Available"):
        backend.deploy(model_spec(2), timeout=0.3)
    assert served_versions(fake_api) == [("champion", "1", 100, False)]
    assert fake_api.get(NAMESPACE, "credit")["status"]["state"] == "Available"
    assert backend.status("credit").model_version == "1"


def test_failed_canary_restores_the_single_champion(backend, fake_api):
    backend.deploy(model_spec(1), timeout=10)
    v2 = _version_is("2")
    fake_api.operator.failed = lambda obj: "Failed to get server config for MLOPS_SKLEARN_SERVER" if v2(obj) else None
    started = time.monotonic()
    with pytest.raises(DeploymentError, match="Failed: Failed to get server config"):
        backend.deploy(model_spec(2, rollout="canary"), timeout=30)
    assert time.monotonic() - started < 10, "a Failed state must end the wait without the full timeout"
    assert served_versions(fake_api) == [("champion", "1", 100, False)]


def test_operator_installed_without_the_projects_server_fails_the_deploy(backend, fake_api):
    from tests.stacks.kubernetes.seldon_admission import BUILTIN_SERVERS

    fake_api.operator.servers = set(BUILTIN_SERVERS)  # helm install without stacks/kubernetes/helm/...values.yaml
    with pytest.raises(DeploymentError, match="Failed: Failed to get server config for MLOPS_SKLEARN_SERVER"):
        backend.deploy(model_spec(1), timeout=30)
    assert fake_api.get(NAMESPACE, "credit") is None


def test_rollback_that_is_refused_is_reported_too(backend, fake_api):
    backend.deploy(model_spec(1), timeout=10)
    fake_api.operator.stuck = _version_is("2")
    # the rollout's own update goes through; the rollback's is refused
    fake_api.refuse("update", 500, "etcdserver: request timed out", name="credit", after=1)
    with pytest.raises(DeploymentError, match="Restoring the previous state failed too: .*500.*request timed out"):
        backend.deploy(model_spec(2), timeout=0.2)


@pytest.mark.parametrize("verb, code, text", [("create", 403, "Forbidden"), ("get", 401, "Unauthorized")])
def test_refused_api_calls_raise_with_code_and_message(backend, fake_api, verb, code, text):
    fake_api.refuse(verb, code, 'seldondeployments.machinelearning.seldon.io is forbidden: User '
                                '"system:serviceaccount:mlops:default" cannot create resource')
    with pytest.raises(DeploymentError, match=rf"refused to {verb} SeldonDeployment 'mlops/credit': {code} "
                                              rf"{text}: seldondeployments.* is forbidden"):
        backend.deploy(model_spec(1), timeout=5)
    assert fake_api.get(NAMESPACE, "credit") is None


def test_refused_update_leaves_the_serving_model_untouched(backend, fake_api):
    backend.deploy(model_spec(1), timeout=10)
    fake_api.refuse("update", 500, "Internal error occurred: admission webhook failed")
    with pytest.raises(DeploymentError, match="refused to update .* 500 Internal Server Error: .*webhook"):
        backend.deploy(model_spec(2), timeout=5)
    assert served_versions(fake_api) == [("champion", "1", 100, False)]


def test_verify_runs_on_the_candidate_before_it_takes_traffic(backend, fake_api):
    backend.deploy(model_spec(1), timeout=10)
    seen = []

    def verify(url):
        seen.append((url, served_versions(fake_api, "credit-candidate"), served_versions(fake_api)))

    backend.deploy(model_spec(2), timeout=10, verify=verify)
    assert seen == [(f"{INGRESS}/seldon/{NAMESPACE}/credit-candidate/api/v1.0/predictions",
                     [("champion", "2", 100, False)], [("champion", "1", 100, False)])]
    assert fake_api.get(NAMESPACE, "credit-candidate") is None
    assert served_versions(fake_api) == [("champion", "2", 100, False)]


def test_failed_verification_aborts_and_removes_the_candidate(backend, fake_api):
    backend.deploy(model_spec(1), timeout=10)

    def verify(url):
        raise AssertionError("endpoint and offline predictions differ on 3 of 200 rows")

    with pytest.raises(DeploymentError, match="failed verification .*differ on 3 of 200 rows; 'credit' was not"):
        backend.deploy(model_spec(2), timeout=10, verify=verify)
    assert fake_api.get(NAMESPACE, "credit-candidate") is None
    assert served_versions(fake_api) == [("champion", "1", 100, False)]
    assert len(fake_api.history["credit"]) == 1  # the endpoint was never written


def test_candidate_that_never_becomes_available_leaves_the_endpoint_alone(backend, fake_api):
    backend.deploy(model_spec(1), timeout=10)
    fake_api.operator.stuck = lambda obj: "Insufficient memory" if obj["metadata"]["name"].endswith("-candidate") \
        else None
    with pytest.raises(DeploymentError, match="credit-candidate' not Available .*Insufficient memory.*'credit' was "
                                              "not changed"):
        backend.deploy(model_spec(2), timeout=0.3, verify=lambda url: None)
    assert fake_api.get(NAMESPACE, "credit-candidate") is None
    assert served_versions(fake_api) == [("champion", "1", 100, False)]


def test_rollback_recreates_an_endpoint_deleted_during_the_rollout(backend, fake_api):
    backend.deploy(model_spec(1), timeout=10)
    previous = fake_api.get(NAMESPACE, "credit")
    backend.delete("credit")  # e.g. someone ran `kubectl delete sdep` while the rollout was waiting
    assert backend._undo("credit", previous, timeout=5) == "The previous spec was restored and is Available again."
    assert served_versions(fake_api) == [("champion", "1", 100, False)]


def test_a_foreign_seldon_deployment_is_not_taken_over(backend, fake_api):
    fake_api.put_raw({"apiVersion": "machinelearning.seldon.io/v1", "kind": "SeldonDeployment",
                      "metadata": {"name": "credit", "namespace": NAMESPACE}, "spec": {"predictors": []}})
    with pytest.raises(DeploymentError, match="exists but is not managed by this project"):
        backend.deploy(model_spec(1), timeout=5, verify=lambda url: None)
    assert fake_api.get(NAMESPACE, "credit-candidate") is None and ("create", "") not in fake_api.requests


def test_status_list_and_delete(backend, fake_api):
    assert backend.status("credit") is None and backend.list() == []
    backend.deploy(model_spec(1), timeout=10)
    backend.deploy(model_spec(1, name="fraud"), timeout=10)
    assert sorted((i.name, i.state) for i in backend.list()) == [("credit", "active"), ("fraud", "active")]
    fake_api.deletion_polls = 3  # like a pod-termination grace period: the object lingers for a few reads
    backend.delete("credit", timeout=5)
    assert fake_api.get(NAMESPACE, "credit") is None and backend.status("credit") is None
    backend.delete("credit")  # deleting a missing deployment is not an error
    assert [i.name for i in backend.list()] == ["fraud"]


def test_delete_that_never_completes_times_out(backend, fake_api):
    backend.deploy(model_spec(1), timeout=10)
    fake_api.deletion_polls = 10_000
    with pytest.raises(DeploymentError, match="still exists 0.2s after deletion"):
        backend.delete("credit", timeout=0.2)


def test_missing_operator_is_named(backend, fake_api):
    fake_api.crd_installed = False
    with pytest.raises(DeploymentError, match="404 Not Found.*Is the Seldon Core operator .* installed"):
        backend.deploy(model_spec(1), timeout=5)


def test_unreachable_api_server_is_named(fake_api):
    url = fake_api.url
    fake_api.stop()
    from kubernetes import client

    config = client.Configuration(host=url)
    config.retries = 0
    backend = KubernetesSeldonBackend(NAMESPACE, IMAGE, INGRESS, api_client=config, poll_interval=0.01)
    with pytest.raises(DeploymentError, match="Kubernetes API unreachable"):
        backend.status("credit")


def test_local_model_uris_are_refused_before_any_api_call(backend, fake_api):
    with pytest.raises(DeploymentError, match="needs an object-store URI"):
        backend.deploy(model_spec(1, model_uri="/work/.state/mlruns/1/x/artifacts/model"))
    assert fake_api.requests == []


def test_stop_scales_to_zero_and_start_restores_the_sizing(fake_api):
    from kubernetes import client

    backend = KubernetesSeldonBackend(NAMESPACE, IMAGE, INGRESS, api_client=fake_api.api_client(), poll_interval=0.01,
                                      hpa={"min_replicas": 2, "max_replicas": 4})
    backend.deploy(model_spec(1), timeout=10)
    pods = client.CoreV1Api(fake_api.api_client())
    assert len(pods.list_namespaced_pod(NAMESPACE, label_selector="seldon-deployment-id=credit").items) == 2
    backend.stop("credit")
    stopped = fake_api.get(NAMESPACE, "credit")["spec"]["predictors"][0]["componentSpecs"][0]
    assert stopped["replicas"] == 0 and "hpaSpec" not in stopped  # an HPA would scale it straight back up
    assert backend.status("credit").state == "stopped" and backend.status("credit").url == URL
    assert pods.list_namespaced_pod(NAMESPACE, label_selector="seldon-deployment-id=credit").items == []
    backend.stop("credit")  # stopping twice keeps the sizing recorded the first time
    info = backend.start("credit", timeout=10)
    started = fake_api.get(NAMESPACE, "credit")["spec"]["predictors"][0]["componentSpecs"][0]
    assert info.state == "active" and "replicas" not in started
    assert started["hpaSpec"]["minReplicas"] == 2
    with pytest.raises(DeploymentError, match="no SeldonDeployment 'mlops/fraud' to start"):
        backend.start("fraud")


def test_canary_over_a_stopped_deployment_brings_the_champion_back(backend, fake_api):
    backend.deploy(model_spec(1, replicas=2), timeout=10)
    backend.stop("credit")
    info = backend.deploy(model_spec(2, rollout="canary"), timeout=10)
    champion = fake_api.get(NAMESPACE, "credit")["spec"]["predictors"][0]
    assert info.state == "active" and champion["componentSpecs"][0]["replicas"] == 2
    assert served_versions(fake_api) == [("champion", "1", 90, False), ("challenger", "2", 10, False)]


def test_logs_of_every_model_pod(backend, fake_api):
    backend.deploy(model_spec(1), timeout=10)
    backend.deploy(model_spec(2, rollout="canary"), timeout=10)
    lines = list(backend.logs("credit", tail=1))
    assert lines == ["[credit-challenger-0-model-0] container model of credit-challenger: Listening at: "
                     "http://0.0.0.0:9000",
                     "[credit-champion-0-model-0] container model of credit-champion: Listening at: "
                     "http://0.0.0.0:9000"]
    assert len(list(backend.logs("credit"))) == 4
    fake_api.refuse("logs", 403, 'pods "credit-champion-0-model-0" is forbidden: cannot get resource "pods/log"')
    with pytest.raises(DeploymentError, match="refused to read the logs of 'mlops/credit': 403 Forbidden"):
        list(backend.logs("credit"))


def test_a_recording_endpoint_gets_the_claim_and_says_where_it_records(fake_api):
    """The volume reaches the API server (a verification candidate records nothing), and the deployment's status
    tells live monitoring where the windows are as the pods that mount the claim see them."""
    from tests.stacks.kubernetes.variants import RECORDING

    backend = KubernetesSeldonBackend(NAMESPACE, IMAGE, INGRESS, api_client=fake_api.api_client(), poll_interval=0.01,
                                      recording_claim="mlops-live-recording")
    backend.cluster.settle_seconds = 2.0
    candidates = []
    backend.deploy(model_spec(1, recording=RECORDING), timeout=10,
                   verify=lambda url: candidates.append(fake_api.get(NAMESPACE, "credit-candidate")))
    assert "mlops-live-recording" not in str(candidates[0]["spec"])
    stored = fake_api.get(NAMESPACE, "credit")
    pod = stored["spec"]["predictors"][0]["componentSpecs"][0]["spec"]
    assert {"name": "live", "persistentVolumeClaim": {"claimName": "mlops-live-recording"}} in pod["volumes"]
    assert {"name": "live", "mountPath": "/var/lib/mlops/live"} in pod["containers"][0]["volumeMounts"]
    assert crd_errors(dict(stored, status={})) == [] and fake_api.warnings == []  # nothing pruned
    details = backend.status("credit").details
    assert (details["live_dir"], details["recording_claim"]) == ("/var/lib/mlops/live/credit", "mlops-live-recording")
    assert "live_dir" not in _backend(fake_api).deploy(model_spec(2), timeout=10).details  # no claim: no recording
