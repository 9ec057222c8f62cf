"""Build SeldonDeployment objects (machinelearning.seldon.io/v1) for the project's serving image.

Plain dictionaries, no Kubernetes client: the Kubernetes backend sends them, the tests validate them against the
SeldonDeployment CRD schema. One stable SeldonDeployment per endpoint name; the rollout mode only changes its
predictors:

- replace: one predictor, `champion`, serving the new model with all the traffic;
- canary:  `champion` (the model serving now) with 100-p % and `challenger` (the new model) with p %;
- shadow:  `champion` with all the traffic, `challenger` mirrored (shadow: true), its answers discarded.

The model is not in the image: Seldon's storage initializer copies `modelUri` to /mnt/models before the model
container starts, because the graph node names the project's server (SERVER_IMPLEMENTATION), registered in the
operator's `predictor_servers` (stacks/kubernetes/seldon-core-operator-values.yaml). For such servers Seldon passes
`model_uri=/mnt/models` to the model class, next to the parameters set here.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from typing import Any, Dict, List, Mapping, Optional

from serving.identity import PARAMETERS as MODEL_PARAMETERS  # what identifies a served model; read back below
from serving.recorder import RECORD_DIR_ENV, SETTING_ENV as RECORDING_ENV
from stacks.seldon.seldon_sizing import (  # noqa: F401 - DEFAULT_RESOURCES, quantity: re-exported for callers
    DEFAULT_RESOURCES, hpa_spec, pdb_spec, quantity, resource_requirements)
from stacks.seldon.spec import ModelDeploymentSpec

GROUP = "machinelearning.seldon.io"
VERSION = "v1"
PLURAL = "seldondeployments"
API_VERSION = f"{GROUP}/{VERSION}"

SERVER_IMPLEMENTATION = "MLOPS_SKLEARN_SERVER"  # key under predictor_servers in the operator values
MODEL_CONTAINER = "model"  # graph node name == container name, as Seldon requires
HTTP_PORT = 9000  # seldon-core-microservice REST port
METRICS_PORT = 6000  # seldon-core-microservice /prometheus port (PodMonitor scrapes port name "metrics")
# Readiness asks the model itself (SeldonModel.health_status: 503 until the model is loaded in this worker);
# liveness only asks whether the server answers, so a slow model load never gets the container restarted.
READINESS_PATH = "/health/status"
LIVENESS_PATH = "/health/ping"
MODEL_UID = 10001  # the serving image's numeric USER (serving/Dockerfile); runAsNonRoot needs a numeric user
# Set on every model pod (componentSpecs[].metadata): stacks/kubernetes/network-policies.yaml selects them by these.
MODEL_POD_LABELS = {"app.kubernetes.io/part-of": "zenml-mlops", "app.kubernetes.io/component": "model-server"}
TMP_VOLUME = {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}  # gunicorn and prometheus_client write to /tmp
# Live traffic recording (serving/recorder.py): the PersistentVolumeClaim `ServingOptions.recording_claim` is mounted
# here in every model pod (and read-only in the live monitoring pods); each endpoint writes under <mount>/<name>.
LIVE_VOLUME = "live"
LIVE_MOUNT = "/var/lib/mlops/live"

CHAMPION = "champion"
CHALLENGER = "challenger"
MANAGED_BY = ("app.kubernetes.io/managed-by", "zenml-mlops")
ROLE_LABEL = "mlops.zenml.io/role"  # on the SeldonDeployment: "endpoint" or "candidate"
ROLLOUT_ANNOTATION = "mlops.zenml.io/rollout"


OBJECT_STORE_SCHEMES = ("s3://", "gs://")  # what Seldon's rclone storage initializer can fetch
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclasses.dataclass(frozen=True)
class ServingOptions:
    """What every predictor of this cluster shares: image, identities, autoscaling and disruption budget."""

    image: str
    service_account: Optional[str] = None  # pod service account of the model pods
    model_storage_secret: Optional[str] = None  # Secret with RCLONE_CONFIG_S3_* for the storage initializer
    recording_claim: Optional[str] = None  # PVC (ReadWriteMany) the endpoints record their traffic to; None: off
    hpa: Optional[Mapping[str, Any]] = None  # {min_replicas, max_replicas, target_cpu_utilization}
    pdb: Optional[Mapping[str, Any]] = None  # {min_available} or {max_unavailable}

    def __post_init__(self) -> None:
        last = (self.image or "").rsplit("/", 1)[-1]
        if not self.image or (":" not in last and "@" not in self.image):
            raise ValueError(f"image: expected a tagged image reference like 'registry/serving:1.0', "
                             f"found {self.image!r}")
        hpa_spec(self.hpa)  # fail at construction, not at the first deploy
        pdb_spec(self.pdb)
        if self.recording_claim is not None and not _DNS_LABEL.match(self.recording_claim):
            raise ValueError(f"recording_claim: expected the name of a PersistentVolumeClaim (a DNS-1123 label), "
                             f"found {self.recording_claim!r}")


def check_name(name: str, suffix: str = "") -> None:
    """Raise ValueError unless `name` (+ suffix) is a DNS-1123 label Kubernetes and Seldon accept."""
    full = name + suffix
    if not _DNS_LABEL.match(name or "") or len(full) > 63:
        raise ValueError(
            f"deployment name {name!r}: expected a DNS-1123 label (lowercase letters, digits, '-') "
            f"of at most {63 - len(suffix)} characters"
        )


def _probe(path: str, initial_delay: int, period: int, failures: int) -> Dict[str, Any]:
    return {"httpGet": {"path": path, "port": "http", "scheme": "HTTP"},
            "initialDelaySeconds": initial_delay, "periodSeconds": period, "timeoutSeconds": 2,
            "failureThreshold": failures}


def live_dir(name: str) -> str:
    """Where the endpoint `name` records its traffic, inside the pods that mount the recording volume."""
    return f"{LIVE_MOUNT}/{name}"


def records(spec: ModelDeploymentSpec, options: ServingOptions) -> bool:
    """Whether `spec`'s model pods record their traffic: the config allows it and the cluster has a volume for it."""
    return bool(options.recording_claim) and bool(spec.recording.get("enabled", True))


def recording_env(spec: ModelDeploymentSpec) -> List[Dict[str, str]]:
    """The recorder's settings (configs/deployment.yaml serving.recording, via the spec) as container env."""
    settings = {k: v for k, v in spec.recording.items() if k != "enabled"}
    unknown = sorted(set(settings) - set(RECORDING_ENV))
    if unknown:
        raise ValueError(f"recording settings {', '.join(unknown)}: unknown; expected {', '.join(RECORDING_ENV)}")
    return [{"name": RECORD_DIR_ENV, "value": live_dir(spec.name)}] + [
        {"name": RECORDING_ENV[k], "value": f"{v:g}" if isinstance(v, float) else str(v)} for k, v in settings.items()]


def recording_volume(options: ServingOptions) -> Dict[str, Any]:
    return {"name": LIVE_VOLUME, "persistentVolumeClaim": {"claimName": options.recording_claim}}


def model_container(spec: ModelDeploymentSpec, options: ServingOptions, record: bool = False) -> Dict[str, Any]:
    """The model container: the serving image, its ports, probes, resources, gunicorn sizing and, with `record`,
    the recording volume and settings."""
    env = [{"name": "GUNICORN_WORKERS", "value": str(spec.workers)}] if spec.workers else []
    if spec.threads:
        env.append({"name": "GUNICORN_THREADS", "value": str(spec.threads)})
    if record:
        env += recording_env(spec)
    container: Dict[str, Any] = {
        "name": MODEL_CONTAINER,
        "image": options.image,
        "ports": [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"},
                  {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}],
        "readinessProbe": _probe(READINESS_PATH, initial_delay=5, period=5, failures=3),
        # Generous liveness: loading a large model must not get the container killed mid-load.
        "livenessProbe": _probe(LIVENESS_PATH, initial_delay=30, period=10, failures=6),
        "resources": resource_requirements(spec.resources),
        # the restricted Pod Security profile; the model (/mnt/models) and /tmp are volumes
        "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": TMP_VOLUME["name"], "mountPath": "/tmp"}],
    }
    if record:  # a mounted volume: the root filesystem stays read-only
        container["volumeMounts"].append({"name": LIVE_VOLUME, "mountPath": LIVE_MOUNT})
    if env:
        container["env"] = env
    return container


def model_uri_for_cluster(model_uri: str) -> str:
    """`model_uri` if Seldon's storage initializer can fetch it, else ValueError saying what is expected."""
    if not model_uri.startswith(OBJECT_STORE_SCHEMES):
        raise ValueError(
            f"model_uri {model_uri!r}: the Kubernetes backend needs an object-store URI "
            f"({', '.join(OBJECT_STORE_SCHEMES)}) the cluster can read; use an MLflow artifact store on S3/MinIO"
        )
    return model_uri


def build_predictor(spec: ModelDeploymentSpec, options: ServingOptions, name: str, traffic: int,
                    shadow: bool = False, record: bool = True) -> Dict[str, Any]:
    """One predictor serving `spec`'s model with `traffic` percent of the requests; it records what it serves when
    `record` and the spec and options allow it (a verification candidate does not: its requests are not traffic)."""
    record = record and records(spec, options)
    pod_spec: Dict[str, Any] = {
        "containers": [model_container(spec, options, record)],
        "volumes": [copy.deepcopy(TMP_VOLUME)],
        # Pod-level too, so the containers the operator adds (executor, storage initializer) run non-root as well.
        "securityContext": {"runAsNonRoot": True, "runAsUser": MODEL_UID, "runAsGroup": MODEL_UID,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "automountServiceAccountToken": False,  # the model calls no Kubernetes API
    }
    if record:
        pod_spec["volumes"].append(recording_volume(options))
        # the claim's files belong to the model's group, so the non-root model user can write them (volumes that
        # ignore fsGroup, such as NFS, need the directory made writable for gid 10001: docs/runbook-kubernetes.md)
        pod_spec["securityContext"].update(fsGroup=MODEL_UID, fsGroupChangePolicy="OnRootMismatch")
    if options.service_account:
        pod_spec["serviceAccountName"] = options.service_account
    component: Dict[str, Any] = {"metadata": {"labels": dict(MODEL_POD_LABELS)}, "spec": pod_spec}
    hpa = hpa_spec(options.hpa)
    if hpa:
        component["hpaSpec"] = hpa  # the HPA owns the replica count
    else:
        component["replicas"] = max(1, int(spec.replicas))
    pdb = pdb_spec(options.pdb)
    if pdb:
        component["pdbSpec"] = pdb
    graph: Dict[str, Any] = {
        "name": MODEL_CONTAINER,
        "type": "MODEL",
        "implementation": SERVER_IMPLEMENTATION,
        "modelUri": model_uri_for_cluster(spec.model.uri),
        "endpoint": {"type": "REST"},
        "parameters": [{"name": key, "type": "STRING", "value": value} for key, value in spec.model.parameters().items()],
    }
    if options.model_storage_secret:
        graph["envSecretRefName"] = options.model_storage_secret
    predictor: Dict[str, Any] = {
        "name": name,
        "traffic": traffic,
        "componentSpecs": [component],
        "graph": graph,
        "labels": {ROLE_LABEL: name},
    }
    if shadow:
        predictor["shadow"] = True
    return predictor


def seldon_deployment(name: str, namespace: str, predictors: List[Dict[str, Any]], rollout: str,
                      role: str = "endpoint") -> Dict[str, Any]:
    """A SeldonDeployment named `name` with these predictors."""
    key, value = MANAGED_BY
    return {
        "apiVersion": API_VERSION,
        "kind": "SeldonDeployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {key: value, ROLE_LABEL: role},
                     "annotations": {ROLLOUT_ANNOTATION: rollout}},
        "spec": {"protocol": "seldon", "transport": "rest", "predictors": predictors},
    }


def champion_of(current: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
    """The predictor of `current` that takes the live traffic: `champion`, else the one with the most traffic."""
    predictors = [p for p in ((current or {}).get("spec") or {}).get("predictors", []) if not p.get("shadow")]
    if not predictors:
        return None
    named = [p for p in predictors if p.get("name") == CHAMPION]
    return copy.deepcopy(named[0] if named else max(predictors, key=lambda p: p.get("traffic", 0)))


def desired_deployment(spec: ModelDeploymentSpec, namespace: str, options: ServingOptions,
                       current: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """The SeldonDeployment that serves `spec` given what serves now (`current`), per `spec.rollout`.

    Canary and shadow keep the current champion predictor unchanged and add the new model as challenger; with
    nothing serving yet there is no champion to compare with, so they fall back to replace.
    """
    check_name(spec.name)
    if spec.rollout not in ("replace", "canary", "shadow"):
        raise ValueError(f"rollout: expected replace, canary or shadow, found {spec.rollout!r}")
    champion = champion_of(current)
    if spec.rollout == "replace" or champion is None:
        predictors = [build_predictor(spec, options, CHAMPION, traffic=100)]
        rollout = "replace"
    else:
        champion["name"], champion["traffic"] = CHAMPION, 100
        champion.pop("shadow", None)
        champion.setdefault("labels", {})[ROLE_LABEL] = CHAMPION
        for component in champion.get("componentSpecs") or []:
            # a champion deployed before the pods carried these labels: the NetworkPolicies would cut it off
            component.setdefault("metadata", {}).setdefault("labels", {}).update(MODEL_POD_LABELS)
        if spec.rollout == "canary":
            share = int(spec.canary_traffic_percent)
            if not 1 <= share <= 99:
                raise ValueError(f"canary_traffic_percent: expected 1..99, found {share}")
            champion["traffic"] = 100 - share
            predictors = [champion, build_predictor(spec, options, CHALLENGER, traffic=share)]
        else:
            predictors = [champion, build_predictor(spec, options, CHALLENGER, traffic=0, shadow=True)]
        rollout = spec.rollout
    return seldon_deployment(spec.name, namespace, predictors, rollout)


def challenger_of(current: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
    """The `challenger` predictor of `current` (canary or shadow), or None."""
    named = [p for p in ((current or {}).get("spec") or {}).get("predictors", []) if p.get("name") == CHALLENGER]
    return copy.deepcopy(named[0]) if named else None


def ended_test(current: Mapping[str, Any], promote: bool) -> Dict[str, Any]:
    """`current` with its A/B test (canary or shadow) ended: with `promote` the challenger becomes the only
    predictor, named champion, with all the traffic; else the champion alone serves everything. The same
    SeldonDeployment (name, URL) is updated in place: ending a canary needs no new deploy."""
    challenger, champion = challenger_of(current), champion_of(current)
    if challenger is None or champion is None:
        raise ValueError(f"SeldonDeployment '{current['metadata']['name']}' has no champion/challenger pair")
    kept = challenger if promote else champion
    kept["name"], kept["traffic"] = CHAMPION, 100
    kept.pop("shadow", None)
    kept.setdefault("labels", {})[ROLE_LABEL] = CHAMPION
    meta = current["metadata"]
    return seldon_deployment(meta["name"], meta.get("namespace", ""), [kept], "replace")


def predictor_models(sdep: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """What each predictor of `sdep` serves: name, traffic, shadow, modelUri and the model parameters."""
    result = []
    for predictor in (sdep.get("spec") or {}).get("predictors", []):
        graph = predictor.get("graph") or {}
        params = {p.get("name"): p.get("value") for p in graph.get("parameters") or []}
        entry = {"predictor": predictor.get("name"), "traffic": predictor.get("traffic", 0),
                 "shadow": bool(predictor.get("shadow", False)), "model_uri": graph.get("modelUri", "")}
        entry.update({key: params.get(key, "") for key in MODEL_PARAMETERS})
        result.append(entry)
    return result


def recorded_live_dir(sdep: Mapping[str, Any]) -> Optional[str]:
    """Where the champion of `sdep` records its traffic (its SERVING_RECORD_DIR), or None when it does not."""
    champion = champion_of(sdep)
    for component in (champion or {}).get("componentSpecs") or []:
        for container in (component.get("spec") or {}).get("containers") or []:
            for variable in container.get("env") or []:
                if variable.get("name") == RECORD_DIR_ENV and variable.get("value"):
                    return variable["value"]
    return None


def predictions_url(ingress_base_url: str, namespace: str, name: str) -> str:
    """The stable prediction URL Seldon's ingress (Istio or Ambassador) routes to the SeldonDeployment `name`."""
    return f"{ingress_base_url.rstrip('/')}/seldon/{namespace}/{name}/api/v1.0/predictions"
