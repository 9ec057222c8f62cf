"""Hardening of the shipped manifests and the generated model pods: the restricted Pod Security profile on every
workload, and NetworkPolicies that open only the paths the system uses."""

from __future__ import annotations

import pytest

from stacks.seldon import seldon_deployment as sd
from tests.stacks.kubernetes.network_policy import Endpoint, allowed, reachable
from tests.stacks.kubernetes.pod_security import restricted_violations
from tests.stacks.kubernetes.manifests import DOCS, pod as _pod
from tests.stacks.kubernetes.variants import VARIANTS

WORKLOADS = {key: doc for key, doc in DOCS.items() if doc["kind"] in ("Deployment", "StatefulSet", "Job")}
POLICIES = [doc for doc in DOCS.values() if doc["kind"] == "NetworkPolicy"]


def _model_pod_labels():
    """The labels the generator puts on model pods, plus the ones the Seldon operator adds."""
    (predictor,) = VARIANTS["replace"]["spec"]["predictors"]
    return {**predictor["componentSpecs"][0]["metadata"]["labels"], "app.kubernetes.io/managed-by": "seldon-core",
            "seldon-deployment-id": "credit"}


def _workload_labels(name):
    return DOCS[name]["spec"]["template"]["metadata"]["labels"]


ENDPOINTS = {
    "postgres": Endpoint("postgres", labels=_workload_labels("postgres.yaml:StatefulSet/postgres")),
    "minio": Endpoint("minio", labels=_workload_labels("minio.yaml:Deployment/minio")),
    "mlflow": Endpoint("mlflow", labels=_workload_labels("mlflow.yaml:Deployment/mlflow")),
    "bucket-job": Endpoint("bucket-job", labels=_workload_labels("minio.yaml:Job/minio-create-bucket")),
    "model": Endpoint("model", labels=_model_pod_labels()),
    # the labels the ZenML Kubernetes orchestrator sets on its orchestrator and step pods
    "pipeline": Endpoint("pipeline", labels={"project_id": "p1", "pipeline": "training", "run_id": "r1"}),
    "other-pod": Endpoint("other-pod", labels={"app": "something-else"}),
    "gateway": Endpoint("gateway", "istio-system", {"istio": "ingressgateway", "app": "istio-ingressgateway"}),
    "prometheus": Endpoint("prometheus", "monitoring", {"app.kubernetes.io/name": "prometheus"}),
    "pushgateway": Endpoint("pushgateway", "monitoring", {"app.kubernetes.io/name": "prometheus-pushgateway"}),
    "dns": Endpoint("dns", "kube-system", {"k8s-app": "kube-dns"}),
    "outside": Endpoint("outside", pod=False),  # the Kubernetes API, the ZenML server, the internet
}
PORTS = {"postgres": [5432], "minio": [9000, 9001], "mlflow": [5000], "model": [6000, 8000, 9000], "dns": [53],
         "gateway": [8080], "pushgateway": [9091], "outside": [443, 5432], "pipeline": [8080], "other-pod": [80]}


@pytest.mark.parametrize("key", sorted(WORKLOADS))
def test_every_workload_meets_the_restricted_pod_security_profile(key):
    assert restricted_violations(_pod(WORKLOADS[key])) == []


@pytest.mark.parametrize("label", sorted(VARIANTS))
def test_every_generated_model_pod_meets_the_restricted_pod_security_profile(label):
    for predictor in VARIANTS[label]["spec"]["predictors"]:
        for component in predictor["componentSpecs"]:
            assert restricted_violations(component["spec"]) == []
            assert component["metadata"]["labels"] == sd.MODEL_POD_LABELS


def test_the_profile_check_names_what_a_default_pod_lacks():
    """Negative control: a pod as Kubernetes defaults it breaks every rule the check knows."""
    pod = {"containers": [{"name": "app", "image": "r/i:1"}], "volumes": [{"name": "h", "hostPath": {"path": "/"}}]}
    problems = "\n".join(restricted_violations(pod))
    for expected in ("hostPath", "automountServiceAccountToken", "allowPrivilegeEscalation", "runAsNonRoot",
                     "seccompProfile", "drop ALL", "readOnlyRootFilesystem", "no cpu limit", "no memory limit"):
        assert expected in problems


@pytest.mark.parametrize("key", sorted(WORKLOADS))
def test_read_only_containers_get_a_writable_tmp_and_mount_only_declared_volumes(key):
    pod = _pod(WORKLOADS[key])
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    volumes.update({t["metadata"]["name"]: t for t in WORKLOADS[key]["spec"].get("volumeClaimTemplates", [])})
    for container in pod["containers"]:
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        assert set(mounts.values()) <= set(volumes), key
        assert "emptyDir" in volumes[mounts["/tmp"]], f"{key}: /tmp must be a writable emptyDir"


@pytest.mark.parametrize("label", sorted(VARIANTS))
def test_generated_model_pods_write_only_to_declared_volumes(label):
    """Read-only root: /tmp is an emptyDir and the recording directory (when recording) is the claim's mount."""
    for predictor in VARIANTS[label]["spec"]["predictors"]:
        pod = predictor["componentSpecs"][0]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        for container in pod["containers"]:
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert set(mounts.values()) <= set(volumes), label
            assert "emptyDir" in volumes[mounts["/tmp"]]
            record_dir = {e["name"]: e["value"] for e in container.get("env", [])}.get("SERVING_RECORD_DIR")
            if record_dir:
                assert record_dir.startswith(sd.LIVE_MOUNT + "/")
                assert "persistentVolumeClaim" in volumes[mounts[sd.LIVE_MOUNT]]


def test_the_namespace_denies_everything_not_explicitly_allowed():
    deny = [p for p in POLICIES if p["spec"]["podSelector"] == {} and not p["spec"].get("ingress")
            and not p["spec"].get("egress")]
    assert deny and set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}


@pytest.mark.parametrize("source, expected", [
    ("model", {"minio": [9000], "dns": [53]}),  # the storage initializer only: no PostgreSQL, no MLflow
    ("pipeline", {"mlflow": [5000], "minio": [9000], "gateway": [8080], "pushgateway": [9091], "outside": [443],
                  "dns": [53]}),
    ("mlflow", {"postgres": [5432], "minio": [9000], "dns": [53]}),
    ("postgres", {"dns": [53]}),
    ("minio", {"dns": [53]}),
    ("bucket-job", {"minio": [9000], "dns": [53]}),
    ("other-pod", {"dns": [53]}),
])
def test_each_pod_reaches_only_what_it_uses(source, expected):
    assert reachable(POLICIES, ENDPOINTS[source], ENDPOINTS, PORTS) == expected


def test_only_the_ingress_gateway_and_prometheus_reach_the_model_pods():
    callers = {name: [port for port in PORTS["model"] if allowed(POLICIES, src, ENDPOINTS["model"], port)]
               for name, src in ENDPOINTS.items() if name != "model"}
    assert {name: ports for name, ports in callers.items() if ports} == \
        {"gateway": [8000, 9000], "prometheus": [6000, 8000]}
    # the ports the policy opens are the ones the model container exposes (plus the operator's executor, 8000)
    container = VARIANTS["replace"]["spec"]["predictors"][0]["componentSpecs"][0]["spec"]["containers"][0]
    assert {p["containerPort"] for p in container["ports"]} == {sd.HTTP_PORT, sd.METRICS_PORT}


def test_the_reachability_check_sees_an_open_namespace():
    """Negative control: without the policies, a model pod reaches PostgreSQL and MLflow."""
    assert allowed([], ENDPOINTS["model"], ENDPOINTS["postgres"], 5432)
    assert reachable([], ENDPOINTS["model"], ENDPOINTS, PORTS)["mlflow"] == [5000]
    only_default_deny = [p for p in POLICIES if p["metadata"]["name"] == "default-deny-all"]
    assert reachable(only_default_deny, ENDPOINTS["pipeline"], ENDPOINTS, PORTS) == {}
