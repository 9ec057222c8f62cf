"""A scripted Seldon Core operator for the fake API server: decides each SeldonDeployment's status.

After a spec change the first `lag_polls` reads still show the previous status (the operator has not seen the
change yet). When the pods change, it reports Creating until `ready_after_polls` reads (Seldon rolls the
Deployments), then Available; a traffic-only change stays Available. `stuck(obj)` keeps an object Creating and
`failed(obj)` marks it Failed, each with the description they return; a graph node naming a model server the
operator was not installed with fails as in Seldon. Like Seldon 1.17 it leaves status.observedGeneration unset
unless `observed_generation=True`.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

from tests.stacks.kubernetes.seldon_admission import configured_servers, reconcile_failure

Key = Tuple[str, str]  # (namespace, name)


def pod_templates(obj: Optional[Dict[str, Any]]) -> Any:
    """What Seldon turns into Deployments: each predictor without its traffic split."""
    predictors = ((obj or {}).get("spec") or {}).get("predictors", [])
    return [{k: v for k, v in p.items() if k not in ("traffic", "shadow")} for p in predictors]


def _replicas(predictor: Dict[str, Any]) -> int:
    component = (predictor.get("componentSpecs") or [{}])[0]
    if component.get("replicas") is not None:
        return int(component["replicas"])
    return int((component.get("hpaSpec") or {}).get("minReplicas") or predictor.get("replicas") or 1)


class ScriptedSeldonOperator:
    """Status decisions for the fake API server, with knobs for tests."""

    def __init__(self, ready_after_polls: int = 2, lag_polls: int = 1, observed_generation: bool = False) -> None:
        self.ready_after_polls = ready_after_polls
        self.lag_polls = lag_polls
        self.observed_generation = observed_generation
        self.servers = configured_servers()  # model servers it was installed with (our Helm values)
        self.stuck: Callable[[Dict[str, Any]], Optional[str]] = lambda obj: None
        self.failed: Callable[[Dict[str, Any]], Optional[str]] = lambda obj: None
        self.processed: Dict[str, int] = {}  # name -> last generation reconciled
        self._polls: Dict[Key, int] = {}
        self._pods_changed: Dict[Key, bool] = {}

    def spec_changed(self, key: Key, previous: Optional[Dict[str, Any]], obj: Dict[str, Any]) -> None:
        """Called by the API server when it stores a new spec."""
        self._polls[key] = 0
        self._pods_changed[key] = pod_templates(previous) != pod_templates(obj)

    def status_for(self, key: Key, obj: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        """The status the operator writes now that `obj` is read, or None while it has not seen the change."""
        self._polls[key] = polls = self._polls.get(key, 0) + 1
        if polls <= self.lag_polls:
            return None
        name, generation = key[1], obj["metadata"]["generation"]
        failed = reconcile_failure(obj["spec"], self.servers) or self.failed(obj)
        stuck = self.stuck(obj)
        ready_at = max(self.ready_after_polls, self.lag_polls + 2) if self._pods_changed.get(key) else 0
        # Seldon counts a Deployment with no ready pod as not ready, so one scaled to zero is never Available
        scaled_to_zero = any(_replicas(p) == 0 for p in obj["spec"].get("predictors", []))
        available = not failed and not stuck and not scaled_to_zero and polls >= ready_at
        deployments = {}
        for predictor in obj["spec"].get("predictors", []):
            replicas = _replicas(predictor)
            deployments[f"{name}-{predictor['name']}-0-model"] = {
                "name": f"{name}-{predictor['name']}-0-model", "replicas": replicas,
                "availableReplicas": replicas if available else 0,
                "status": "Available" if available else "Creating"}
        status = {"state": "Failed" if failed else "Available" if available else "Creating",
                  "deploymentStatus": deployments,
                  "replicas": sum(d["replicas"] for d in deployments.values()),
                  "address": {"url": f"http://{name}-default.{key[0]}.svc.cluster.local:8000/api/v1.0/predictions"}}
        if failed or stuck:
            status["description"] = failed or stuck
        if self.observed_generation:
            status["observedGeneration"] = generation
        self.processed[name] = generation
        return status

    def pods(self, objects: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        """The model pods of these SeldonDeployments: one per replica of each predictor, labelled as Seldon does."""
        pods = []
        for obj in objects:
            name = obj["metadata"]["name"]
            for predictor in obj["spec"].get("predictors", []):
                component = (predictor.get("componentSpecs") or [{}])[0]
                for index in range(_replicas(predictor)):
                    pods.append({
                        "metadata": {"name": f"{name}-{predictor['name']}-0-model-{index}",
                                     "namespace": obj["metadata"]["namespace"],
                                     "labels": {"seldon-deployment-id": name,
                                                "app.kubernetes.io/managed-by": "seldon-core"}},
                        "spec": {"containers": [{"name": "seldon-container-engine", "image": "seldonio/executor"},
                                                *component.get("spec", {}).get("containers", [])]},
                        "status": {"phase": "Running"},
                    })
        return pods

    def pod_log(self, objects: List[Dict[str, Any]], pod: str, container: Optional[str],
                tail: Optional[int]) -> Optional[str]:
        """What `container` of `pod` logged (loading its model, then serving), or None if there is no such one."""
        for candidate in self.pods(objects):
            if candidate["metadata"]["name"] == pod:
                containers = [c["name"] for c in candidate["spec"]["containers"]]
                if container not in containers:
                    return None
                predictor = pod.rsplit("-0-model-", 1)[0]
                lines = [f"container {container} of {predictor}: Loading model from /mnt/models",
                         f"container {container} of {predictor}: Listening at: http://0.0.0.0:9000"]
                return "\n".join(lines[-tail:] if tail else lines) + "\n"
        return None
