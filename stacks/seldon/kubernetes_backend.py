"""Serve models as SeldonDeployments on Kubernetes, through the Kubernetes API.

One SeldonDeployment per endpoint name, updated in place so its ingress URL never changes. A rollout:

1. with a `verify` hook: the candidate runs alone as `<name>-candidate` until it is Available, `verify` is called
   with its own URL, then the candidate is deleted (it never takes production traffic);
2. the endpoint's SeldonDeployment is created or replaced (replace, canary or shadow predictors);
3. the backend waits until Seldon reports the new spec Available. If it fails or times out, the
   previous spec is written back, so the model that served before keeps serving, and DeploymentError says why.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any, Callable, Dict, List, Mapping, Optional

from stacks.seldon import seldon_deployment as sd
from stacks.seldon.spec import DeploymentBackend, DeploymentError, DeploymentInfo, ModelDeploymentSpec

logger = logging.getLogger(__name__)

CANDIDATE_SUFFIX = "-candidate"
REQUEST_TIMEOUT = 30  # seconds per API call; waiting is done by polling, never by a long request
_STATES = {"Available": "active", "Failed": "failed"}


def _api_message(exc: Exception) -> str:
    """`<code> <reason>: <message>` from a kubernetes ApiException, or the exception text."""
    status, reason, body = getattr(exc, "status", None), getattr(exc, "reason", ""), getattr(exc, "body", None)
    if status is None:
        return str(exc)
    try:
        message = json.loads(body).get("message", "") if body else ""
    except (ValueError, AttributeError):
        message = str(body)
    return f"{status} {reason}: {message}".rstrip(": ")


def describe_status(status: Mapping[str, Any]) -> str:
    """One line about a SeldonDeployment status: its description and each Deployment's available replicas."""
    parts = [str(status["description"])] if status.get("description") else []
    for deployment, info in sorted((status.get("deploymentStatus") or {}).items()):
        parts.append(f"{deployment}: {info.get('availableReplicas', 0)}/{info.get('replicas', '?')} available")
    return "; ".join(parts) or "no status reported by the Seldon operator yet"


class KubernetesSeldonBackend(DeploymentBackend):
    """Deploy ModelDeploymentSpecs as SeldonDeployments (machinelearning.seldon.io/v1) in one namespace."""

    def __init__(self, namespace: str, image: str, ingress_base_url: str, kube_context: Optional[str] = None,
                 api_client: Any = None, poll_interval: float = 2.0, hpa: Optional[dict] = None,
                 pdb: Optional[dict] = None, service_account: Optional[str] = None,
                 model_storage_secret: Optional[str] = None) -> None:
        sd.check_name(namespace)
        if not ingress_base_url.startswith(("http://", "https://")):
            raise ValueError(f"ingress_base_url: expected http(s)://host[:port], found {ingress_base_url!r}")
        self.namespace = namespace
        self.ingress_base_url = ingress_base_url.rstrip("/")
        self.kube_context = kube_context
        self.poll_interval = poll_interval
        self.options = sd.ServingOptions(image=image, service_account=service_account,
                                         model_storage_secret=model_storage_secret, hpa=hpa, pdb=pdb)
        self._api_client = api_client
        self._api: Any = None
        self.settle_seconds = 10.0  # see _status_is_current; tests shorten it

    # -- Kubernetes API ---------------------------------------------------------------------------------------

    @property
    def api(self) -> Any:
        """CustomObjectsApi on the given client, or on the kubeconfig context / in-cluster service account."""
        if self._api is None:
            from kubernetes import client, config

            api_client = self._api_client
            if isinstance(api_client, client.Configuration):
                api_client = client.ApiClient(api_client)
            if api_client is None:
                try:
                    if self.kube_context is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
                        config.load_incluster_config()
                        api_client = client.ApiClient()
                    else:
                        api_client = config.new_client_from_config(context=self.kube_context)
                except config.ConfigException as exc:
                    raise DeploymentError(f"no Kubernetes credentials for context {self.kube_context!r}: {exc}. "
                                          "Check `kubectl config get-contexts`.") from exc
            self._api = client.CustomObjectsApi(api_client)
        return self._api

    def _call(self, verb: str, name: str, method: str, *args: Any, **kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return getattr(self.api, method)(sd.GROUP, sd.VERSION, self.namespace, sd.PLURAL, *args,
                                             _request_timeout=REQUEST_TIMEOUT, **kwargs)
        except ApiException as exc:
            if exc.status == 404 and verb in ("get", "delete"):
                return None
            hint = (" Is the Seldon Core operator (CRD seldondeployments.machinelearning.seldon.io) installed?"
                    if exc.status == 404 else "")
            raise DeploymentError(f"Kubernetes API refused to {verb} SeldonDeployment "
                                  f"'{self.namespace}/{name}': {_api_message(exc)}.{hint}") from exc
        except (OSError, HTTPError) as exc:  # connection refused, DNS, TLS, retries exhausted
            raise DeploymentError(f"Kubernetes API unreachable while trying to {verb} SeldonDeployment "
                                  f"'{self.namespace}/{name}': {exc}") from exc

    def _get(self, name: str) -> Optional[Dict[str, Any]]:
        return self._call("get", name, "get_namespaced_custom_object", name)

    def _write(self, body: Dict[str, Any], current: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
        """Create `body`, or replace `current` with it (optimistic concurrency on resourceVersion)."""
        name = body["metadata"]["name"]
        if current is None:
            return self._call("create", name, "create_namespaced_custom_object", body)
        body = dict(body, metadata=dict(body["metadata"], resourceVersion=current["metadata"]["resourceVersion"]))
        return self._call("update", name, "replace_namespaced_custom_object", name, body)

    def url(self, name: str) -> str:
        """The stable prediction URL of the deployment `name`."""
        return sd.predictions_url(self.ingress_base_url, self.namespace, name)

    # -- waiting ----------------------------------------------------------------------------------------------

    def wait_available(self, name: str, written: Optional[Mapping[str, Any]], timeout: float,
                       deadline: Optional[float] = None) -> Dict[str, Any]:
        """Poll until Seldon reports `name` Available for `written` (what our create/replace returned).

        Raises DeploymentError when the operator reports Failed, or on timeout.

        `deadline` (time.monotonic) ends the wait earlier when part of `timeout` was spent before it started.
        """
        start = time.monotonic()
        deadline = start + timeout if deadline is None else deadline
        meta = (written or {}).get("metadata") or {}
        while True:
            obj = self._get(name)
            if obj is None:
                raise DeploymentError(f"SeldonDeployment '{self.namespace}/{name}' disappeared while waiting for it")
            status = obj.get("status") or {}
            current = self._status_is_current(obj, meta, time.monotonic() - start)
            if current and status.get("state") == "Available":
                return obj
            if current and status.get("state") == "Failed":
                raise DeploymentError(f"SeldonDeployment '{self.namespace}/{name}' Failed: {describe_status(status)}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeploymentError(
                    f"SeldonDeployment '{self.namespace}/{name}' not Available after {timeout:g}s "
                    f"(state {status.get('state') or 'none'}): {describe_status(status)}. "
                    f"Look at `kubectl -n {self.namespace} describe sdep {name}` and the pods' events."
                )
            time.sleep(min(self.poll_interval, remaining))

    def _status_is_current(self, obj: Mapping[str, Any], written: Mapping[str, Any], waited: float) -> bool:
        """Whether `obj`'s status describes the spec we wrote rather than the one before it.

        Seldon 1.17 does not set status.observedGeneration. Its status writes go through optimistic concurrency,
        so any change of resourceVersion after our write means the operator reconciled our spec. A spec change
        that leaves the status unchanged (e.g. traffic only) causes no write: then a status that stayed the same
        for `settle_seconds` is taken as current.
        """
        observed = (obj.get("status") or {}).get("observedGeneration")
        if observed is not None and written.get("generation") is not None:
            return observed >= written["generation"]
        if not written or obj["metadata"].get("resourceVersion") != written.get("resourceVersion"):
            return True
        return waited >= self.settle_seconds

    # -- DeploymentBackend ------------------------------------------------------------------------------------

    def deploy(self, spec: ModelDeploymentSpec, timeout: float = 300.0,
               verify: Optional[Callable[[str], None]] = None) -> DeploymentInfo:
        """Serve `spec` at its stable URL; on failure the previous spec is restored and DeploymentError raised."""
        try:
            sd.check_name(spec.name, CANDIDATE_SUFFIX)
            sd.model_uri_for_cluster(spec.model_uri)
            sd.resource_requirements(spec.resources)
        except ValueError as exc:
            raise DeploymentError(f"deployment '{spec.name}': {exc}") from exc
        deadline = time.monotonic() + timeout
        if verify is not None:
            self._verify_candidate(spec, verify, timeout)
        current = self._get(spec.name)
        if current is not None and (current["metadata"].get("labels") or {}).get(sd.MANAGED_BY[0]) != sd.MANAGED_BY[1]:
            raise DeploymentError(f"SeldonDeployment '{self.namespace}/{spec.name}' exists but is not managed by "
                                  f"this project (label {sd.MANAGED_BY[0]}={sd.MANAGED_BY[1]} missing); "
                                  "choose another deployment name")
        try:
            desired = sd.desired_deployment(spec, self.namespace, self.options, current)
        except ValueError as exc:
            raise DeploymentError(f"deployment '{spec.name}': {exc}") from exc
        written = self._write(desired, current)
        logger.info("SeldonDeployment %s/%s %s (%s rollout of %s v%s); waiting until Available",
                    self.namespace, spec.name, "created" if current is None else "updated",
                    desired["metadata"]["annotations"][sd.ROLLOUT_ANNOTATION], spec.model_name, spec.model_version)
        try:
            ready = self.wait_available(spec.name, written, timeout, deadline)
        except DeploymentError as exc:
            raise DeploymentError(f"{exc} {self._undo(spec.name, current, timeout)}") from exc
        info = self._info(ready)
        logger.info("Model %s v%s serving at %s", spec.model_name, spec.model_version, info.url)
        return info

    def _verify_candidate(self, spec: ModelDeploymentSpec, verify: Callable[[str], None], timeout: float) -> None:
        """Run the candidate alone as `<name>-candidate`, call `verify` on its URL, then delete it."""
        name = spec.name + CANDIDATE_SUFFIX
        body = sd.seldon_deployment(name, self.namespace,
                                    [sd.build_predictor(spec, self.options, sd.CHAMPION, traffic=100)],
                                    rollout="replace", role="candidate")
        written = self._write(body, self._get(name))  # a leftover candidate from an interrupted run is replaced
        try:
            self.wait_available(name, written, timeout)
            url = self.url(name)
            logger.info("Verifying candidate %s v%s at %s", spec.model_name, spec.model_version, url)
            verify(url)
        except DeploymentError as exc:
            raise DeploymentError(f"{exc} '{spec.name}' was not changed.") from exc
        except Exception as exc:
            raise DeploymentError(f"candidate {spec.model_name} v{spec.model_version} failed verification at "
                                  f"{self.url(name)}: {exc}; '{spec.name}' was not changed") from exc
        finally:
            self._delete_quietly(name)

    def _delete_quietly(self, name: str) -> None:
        """Delete `name`; a failure is logged, never raised, so it cannot hide the error being reported."""
        try:
            self._call("delete", name, "delete_namespaced_custom_object", name)
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
            written = self._write(restored, self._get(name))
            self.wait_available(name, written, timeout)
            return "The previous spec was restored and is Available again."
        except DeploymentError as undo_error:
            return f"Restoring the previous state failed too: {undo_error}"

    def status(self, name: str) -> Optional[DeploymentInfo]:
        """The deployment `name`, or None if there is no such SeldonDeployment."""
        obj = self._get(name)
        return self._info(obj) if obj is not None else None

    def list(self) -> List[DeploymentInfo]:
        """Every endpoint SeldonDeployment of this project in the namespace (candidates excluded)."""
        selector = f"{sd.MANAGED_BY[0]}={sd.MANAGED_BY[1]},{sd.ROLE_LABEL}=endpoint"
        found = self._call("list", "*", "list_namespaced_custom_object", label_selector=selector)
        return [self._info(obj) for obj in found.get("items", [])]

    def delete(self, name: str, timeout: float = 60.0) -> None:
        """Delete `name` (and a leftover candidate) and wait until the API no longer has it."""
        for target in (name, name + CANDIDATE_SUFFIX):
            self._call("delete", target, "delete_namespaced_custom_object", target)
        deadline = time.monotonic() + timeout
        while self._get(name) is not None:
            if time.monotonic() >= deadline:
                raise DeploymentError(f"SeldonDeployment '{self.namespace}/{name}' still exists {timeout:g}s "
                                      "after deletion; check its finalizers")
            time.sleep(self.poll_interval)

    def _info(self, obj: Mapping[str, Any]) -> DeploymentInfo:
        status = obj.get("status") or {}
        models = sd.predictor_models(obj)
        newest = models[-1] if models else {}  # the challenger when there is one: what the last deploy added
        name = obj["metadata"]["name"]
        return DeploymentInfo(
            name=name,
            url=self.url(name),
            state=_STATES.get(status.get("state", ""), "pending"),  # type: ignore[arg-type]
            model_name=newest.get("model_name", ""),
            model_version=newest.get("model_version", ""),
            details={"namespace": self.namespace,
                     "rollout": (obj["metadata"].get("annotations") or {}).get(sd.ROLLOUT_ANNOTATION, "replace"),
                     "predictors": models, "status": describe_status(status),
                     "generation": obj["metadata"].get("generation")},
        )
