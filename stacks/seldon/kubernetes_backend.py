"""Serve models as SeldonDeployments on Kubernetes, through the Kubernetes API.

One SeldonDeployment per endpoint name, updated in place so its ingress URL never changes. A rollout:

1. with a `verify` hook: the candidate runs alone as `<name>-candidate` until it is Available, `verify` is called
   with its own URL, then the candidate is deleted (it never takes production traffic);
2. the endpoint's SeldonDeployment is created or replaced (replace, canary or shadow predictors);
3. the backend waits until Seldon reports the new spec Available. If it fails or times out, the
   previous spec is written back, so the model that served before keeps serving, and DeploymentError says why.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional

from stacks.seldon import seldon_deployment as sd
from stacks.seldon import seldon_sizing
from stacks.seldon.kubernetes_api import SeldonDeploymentsApi, describe_status
from serving.identity import ModelIdentity
from stacks.seldon.spec import (ABTestNotSupported, ABTestRunningError, DeploymentBackend, DeploymentError,
                                DeploymentInfo, ModelDeploymentSpec, TrafficSplit)

logger = logging.getLogger(__name__)

CANDIDATE_SUFFIX = "-candidate"
_STATES = {"Available": "active", "Failed": "failed"}


class KubernetesSeldonBackend(DeploymentBackend):
    """Deploy ModelDeploymentSpecs as SeldonDeployments (machinelearning.seldon.io/v1) in one namespace."""

    def __init__(self, namespace: str, image: str, ingress_base_url: str, kube_context: Optional[str] = None,
                 api_client: Any = None, poll_interval: float = 2.0, hpa: Optional[dict] = None,
                 pdb: Optional[dict] = None, service_account: Optional[str] = None,
                 model_storage_secret: Optional[str] = None, recording_claim: Optional[str] = None) -> None:
        sd.check_name(namespace)
        if not ingress_base_url.startswith(("http://", "https://")):
            raise ValueError(f"ingress_base_url: expected http(s)://host[:port], found {ingress_base_url!r}")
        self.namespace = namespace
        self.ingress_base_url = ingress_base_url.rstrip("/")
        self.options = sd.ServingOptions(image=image, service_account=service_account,
                                         model_storage_secret=model_storage_secret, hpa=hpa, pdb=pdb,
                                         recording_claim=recording_claim)
        self.cluster = SeldonDeploymentsApi(namespace, kube_context, api_client, poll_interval)

    def url(self, name: str) -> str:
        """The stable prediction URL of the deployment `name`."""
        return sd.predictions_url(self.ingress_base_url, self.namespace, name)

    # -- DeploymentBackend ------------------------------------------------------------------------------------

    def deploy(self, spec: ModelDeploymentSpec, timeout: float = 300.0,
               verify: Optional[Callable[[str], None]] = None) -> DeploymentInfo:
        """Serve `spec` at its stable URL; on failure the previous spec is restored and DeploymentError raised."""
        try:
            sd.check_name(spec.name, CANDIDATE_SUFFIX)
            sd.model_uri_for_cluster(spec.model.uri)
            sd.resource_requirements(spec.resources)
        except ValueError as exc:
            raise DeploymentError(f"deployment '{spec.name}': {exc}") from exc
        deadline = time.monotonic() + timeout
        if verify is not None:
            self._managed(spec.name)  # refuse a foreign SeldonDeployment before spending time on a candidate
            self._verify_candidate(spec, verify, timeout)
        current = self._managed(spec.name)
        # a stopped champion kept for canary/shadow gets its sizing back: at zero pods it would never be Available
        serving = seldon_sizing.scaled_back(current) if current and seldon_sizing.is_stopped(current) else current
        try:
            desired = sd.desired_deployment(spec, self.namespace, self.options, serving)
        except ValueError as exc:
            raise DeploymentError(f"deployment '{spec.name}': {exc}") from exc
        written = self.cluster.write(desired, current)
        logger.info("SeldonDeployment %s/%s %s (%s rollout of %s v%s); waiting until Available",
                    self.namespace, spec.name, "created" if current is None else "updated",
                    desired["metadata"]["annotations"][sd.ROLLOUT_ANNOTATION], spec.model.name, spec.model.version)
        try:
            ready = self.cluster.wait_available(spec.name, written, timeout, deadline)
        except DeploymentError as exc:
            raise DeploymentError(f"{exc} {self._undo(spec.name, current, timeout)}") from exc
        info = self._info(ready)
        logger.info("Model %s v%s serving at %s", spec.model.name, spec.model.version, info.url)
        return info

    # -- A/B tests: the SeldonDeployment's champion/challenger predictors ----------------------------------------

    def start_challenger(self, spec: ModelDeploymentSpec, split: TrafficSplit, timeout: float = 300.0,
                         verify: Optional[Callable[[str], None]] = None) -> DeploymentInfo:
        """A canary (`split.challenger_percent`) or shadow challenger predictor beside the serving champion."""
        if split.sticky_header:
            raise ABTestNotSupported(
                "sticky A/B routing on Kubernetes needs header-based routing at the ingress (Istio/Ambassador "
                "rules), which SeldonDeployment predictors do not express; run a random split (no --sticky-header)")
        current = self._managed(spec.name)
        if current is None or seldon_sizing.is_stopped(current):
            raise DeploymentError(f"{spec.name}: no champion is serving; deploy a model first")
        if sd.challenger_of(current) is not None:
            raise ABTestRunningError(f"{spec.name}: a challenger predictor is serving already; end that test first")
        rollout = "shadow" if split.shadow else "canary"
        return self.deploy(dataclasses.replace(spec, rollout=rollout, canary_traffic_percent=split.challenger_percent),
                           timeout=timeout, verify=verify)

    def end_challenger(self, name: str, promote: bool, timeout: float = 300.0) -> DeploymentInfo:
        """Promote the challenger predictor to the only one at 100 %, or remove it; restored on failure."""
        current = self._managed(name)
        if current is None or sd.challenger_of(current) is None:
            raise DeploymentError(f"{name}: no A/B test (challenger predictor) is running")
        desired = sd.ended_test(current, promote)
        written = self.cluster.write(desired, current)
        try:
            ready = self.cluster.wait_available(name, written, timeout)
        except DeploymentError as exc:
            raise DeploymentError(f"{exc} {self._undo(name, current, timeout)}") from exc
        logger.info("SeldonDeployment %s/%s: A/B test ended (%s)", self.namespace, name,
                    "challenger promoted" if promote else "challenger removed")
        return self._info(ready)

    def challenger(self, name: str) -> Optional[Dict[str, Any]]:
        current = self.cluster.get(name)
        predictor = sd.challenger_of(current)
        if predictor is None:
            return None
        model = next(m for m in sd.predictor_models(current) if m["predictor"] == sd.CHALLENGER)
        identity = ModelIdentity(name=model["model_name"], version=model["model_version"], uri=model["model_uri"],
                                 run_id=model["run_id"], data_fingerprint=model["data_fingerprint"],
                                 git_commit=model["git_commit"])
        split = TrafficSplit(challenger_percent=model["traffic"] if not model["shadow"] else 10,
                             shadow=model["shadow"])
        return {"spec": ModelDeploymentSpec(name=name, model=identity).to_dict(), "split": dataclasses.asdict(split),
                "shares": {sd.CHAMPION: 100 - model["traffic"], sd.CHALLENGER: model["traffic"]}}

    def _managed(self, name: str) -> Optional[Dict[str, Any]]:
        """The SeldonDeployment `name` if this project manages it, None if there is none; else DeploymentError."""
        current = self.cluster.get(name)
        if current is not None and (current["metadata"].get("labels") or {}).get(sd.MANAGED_BY[0]) != sd.MANAGED_BY[1]:
            raise DeploymentError(f"SeldonDeployment '{self.namespace}/{name}' exists but is not managed by "
                                  f"this project (label {sd.MANAGED_BY[0]}={sd.MANAGED_BY[1]} missing); "
                                  "choose another deployment name")
        return current

    def _verify_candidate(self, spec: ModelDeploymentSpec, verify: Callable[[str], None], timeout: float) -> None:
        """Run the candidate alone as `<name>-candidate`, call `verify` on its URL, then delete it."""
        name = spec.name + CANDIDATE_SUFFIX
        body = sd.seldon_deployment(name, self.namespace,
                                    [sd.build_predictor(spec, self.options, sd.CHAMPION, traffic=100, record=False)],
                                    rollout="replace", role="candidate")
        written = self.cluster.write(body, self.cluster.get(name))  # a leftover from an interrupted run is replaced
        try:
            self.cluster.wait_available(name, written, timeout)
            url = self.url(name)
            logger.info("Verifying candidate %s v%s at %s", spec.model.name, spec.model.version, url)
            verify(url)
        except DeploymentError as exc:
            raise DeploymentError(f"{exc} '{spec.name}' was not changed.") from exc
        except Exception as exc:
            raise DeploymentError(f"candidate {spec.model} failed verification at "
                                  f"{self.url(name)}: {exc}; '{spec.name}' was not changed") from exc
        finally:
            self._delete_quietly(name)

    def _delete_quietly(self, name: str) -> None:
        """Delete `name`; a failure is logged, never raised, so it cannot hide the error being reported."""
        try:
            self.cluster.delete(name)
        except DeploymentError as exc:
            logger.warning("Could not delete SeldonDeployment %s/%s: %s", self.namespace, name, exc)

    def _undo(self, name: str, previous: Optional[Mapping[str, Any]], timeout: float) -> str:
        """Put back what served before the failed rollout; return a sentence saying what happened."""
        if previous is None:
            self._delete_quietly(name)
            return "The new SeldonDeployment was deleted; nothing was serving before."
        meta = previous["metadata"]
        restored = {"apiVersion": sd.API_VERSION, "kind": "SeldonDeployment", "spec": previous["spec"],
                    "metadata": {"name": name, "namespace": self.namespace, "labels": meta.get("labels") or {},
                                 "annotations": meta.get("annotations") or {}}}
        try:
            written = self.cluster.write(restored, self.cluster.get(name))
            self.cluster.wait_available(name, written, timeout)
            return "The previous spec was restored and is Available again."
        except DeploymentError as undo_error:
            return f"Restoring the previous state failed too: {undo_error}"

    def status(self, name: str) -> Optional[DeploymentInfo]:
        """The deployment `name`, or None if there is no such SeldonDeployment."""
        obj = self.cluster.get(name)
        return self._info(obj) if obj is not None else None

    def list(self) -> List[DeploymentInfo]:
        """Every endpoint SeldonDeployment of this project in the namespace (candidates excluded)."""
        selector = f"{sd.MANAGED_BY[0]}={sd.MANAGED_BY[1]},{sd.ROLE_LABEL}=endpoint"
        return [self._info(obj) for obj in self.cluster.list(selector)]

    def delete(self, name: str, timeout: float = 60.0) -> None:
        """Delete `name` (and a leftover candidate) and wait until the API no longer has it."""
        for target in (name, name + CANDIDATE_SUFFIX):
            self.cluster.delete(target)
        deadline = time.monotonic() + timeout
        while self.cluster.get(name) is not None:
            if time.monotonic() >= deadline:
                raise DeploymentError(f"SeldonDeployment '{self.namespace}/{name}' still exists {timeout:g}s "
                                      "after deletion; check its finalizers")
            time.sleep(self.cluster.poll_interval)

    # -- lifecycle beyond the ABC (ZenML service start/stop/logs), as in the local backend ------------------

    def stop(self, name: str, timeout: float = 60.0) -> None:
        """Scale `name` to zero pods, keeping its SeldonDeployment (and URL) so `start` brings it back."""
        current = self._managed(name)
        if current is not None and not seldon_sizing.is_stopped(current):
            self.cluster.write(seldon_sizing.scaled_to_zero(current), current)
            logger.info("SeldonDeployment %s/%s scaled to zero", self.namespace, name)

    def start(self, name: str, timeout: float = 300.0) -> DeploymentInfo:
        """Serve a stopped deployment again with its previous sizing; wait until it is Available."""
        current = self._managed(name)
        if current is None:
            raise DeploymentError(f"no SeldonDeployment '{self.namespace}/{name}' to start")
        written = self.cluster.write(seldon_sizing.scaled_back(current), current)
        return self._info(self.cluster.wait_available(name, written, timeout))

    def logs(self, name: str, tail: Optional[int] = None, follow: bool = False) -> Iterator[str]:
        """Lines of the model container's log in every pod of `name` (the last `tail` per pod if given).

        `follow` is accepted for the local backend's signature; cluster logs are read once (use `kubectl logs -f`).
        """
        return self.cluster.pod_logs(name, sd.MODEL_CONTAINER, tail)

    def shutdown(self) -> None:
        """Nothing to stop: cluster deployments outlive the process that created them."""

    def _info(self, obj: Mapping[str, Any]) -> DeploymentInfo:
        status = obj.get("status") or {}
        models = sd.predictor_models(obj)
        newest = models[-1] if models else {}  # the challenger when there is one: what the last deploy added
        name = obj["metadata"]["name"]
        state = "stopped" if seldon_sizing.is_stopped(obj) else _STATES.get(status.get("state", ""), "pending")
        details: Dict[str, Any] = {
            "backend": "kubernetes", "namespace": self.namespace,
            "rollout": (obj["metadata"].get("annotations") or {}).get(sd.ROLLOUT_ANNOTATION, "replace"),
            "model_uri": newest.get("model_uri", ""), "run_id": newest.get("run_id", ""),
            "predictors": models, "status": describe_status(status), "generation": obj["metadata"].get("generation")}
        live_dir = sd.recorded_live_dir(obj)
        if live_dir:  # as the pods that mount the recording claim see it (the live monitoring steps)
            details.update(live_dir=live_dir, recording_claim=self.options.recording_claim)
        return DeploymentInfo(
            name=name, url=self.url(name), state=state,  # type: ignore[arg-type]
            model_name=newest.get("model_name", ""), model_version=newest.get("model_version", ""),
            details=details,
        )
