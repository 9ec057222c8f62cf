"""SeldonDeployments in one namespace through the Kubernetes API: read, write, delete, wait, pod logs.

Every failure becomes a DeploymentError that names the object, the HTTP status and the API server's message, so the
deployment step can say what went wrong without a traceback from the Kubernetes client.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Dict, Iterator, List, Mapping, Optional

from stacks.seldon import seldon_deployment as sd
from stacks.seldon.spec import DeploymentError

REQUEST_TIMEOUT = 30  # seconds per API call; waiting is done by polling, never by a long request
MODEL_POD_LABEL = "seldon-deployment-id"  # set by the Seldon operator on every pod of a SeldonDeployment


def api_message(exc: Exception) -> str:
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


class SeldonDeploymentsApi:
    """The SeldonDeployments of `namespace`, on a given client or the kubeconfig / in-cluster credentials."""

    def __init__(self, namespace: str, kube_context: Optional[str] = None, api_client: Any = None,
                 poll_interval: float = 2.0) -> None:
        self.namespace = namespace
        self.kube_context = kube_context
        self.poll_interval = poll_interval
        self.settle_seconds = 10.0  # see status_is_current
        self._api_client = api_client
        self._clients: Dict[str, Any] = {}

    def _client(self, kind: str) -> Any:
        """CustomObjectsApi or CoreV1Api, created on first use so constructing needs no cluster."""
        if kind not in self._clients:
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
            self._api_client = api_client
            self._clients[kind] = getattr(client, kind)(api_client)
        return self._clients[kind]

    def call(self, verb: str, name: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """CustomObjectsApi.`method` on seldondeployments; None for a missing object on get/delete."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return getattr(self._client("CustomObjectsApi"), method)(
                sd.GROUP, sd.VERSION, self.namespace, sd.PLURAL, *args, _request_timeout=REQUEST_TIMEOUT, **kwargs)
        except ApiException as exc:
            if exc.status == 404 and verb in ("get", "delete"):
                return None
            hint = (" Is the Seldon Core operator (CRD seldondeployments.machinelearning.seldon.io) installed?"
                    if exc.status == 404 else "")
            raise DeploymentError(f"Kubernetes API refused to {verb} SeldonDeployment "
                                  f"'{self.namespace}/{name}': {api_message(exc)}.{hint}") from exc
        except (OSError, HTTPError) as exc:  # connection refused, DNS, TLS, retries exhausted
            raise DeploymentError(f"Kubernetes API unreachable while trying to {verb} SeldonDeployment "
                                  f"'{self.namespace}/{name}': {exc}") from exc

    def get(self, name: str) -> Optional[Dict[str, Any]]:
        return self.call("get", name, "get_namespaced_custom_object", name)

    def list(self, label_selector: str) -> List[Dict[str, Any]]:
        return self.call("list", "*", "list_namespaced_custom_object", label_selector=label_selector)["items"]

    def write(self, body: Dict[str, Any], current: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
        """Create `body`, or replace `current` with it (optimistic concurrency on resourceVersion)."""
        name = body["metadata"]["name"]
        if current is None:
            return self.call("create", name, "create_namespaced_custom_object", body)
        body = dict(body, metadata=dict(body["metadata"], resourceVersion=current["metadata"]["resourceVersion"]))
        return self.call("update", name, "replace_namespaced_custom_object", name, body)

    def delete(self, name: str) -> None:
        self.call("delete", name, "delete_namespaced_custom_object", name)

    def wait_available(self, name: str, written: Optional[Mapping[str, Any]], timeout: float,
                       deadline: Optional[float] = None) -> Dict[str, Any]:
        """Poll until Seldon reports `name` Available for `written` (what our create/replace returned).

        Raises DeploymentError when the operator reports Failed, or on timeout. `deadline` (time.monotonic)
        ends the wait earlier when part of `timeout` was spent before it started.
        """
        start = time.monotonic()
        deadline = start + timeout if deadline is None else deadline
        meta = (written or {}).get("metadata") or {}
        while True:
            obj = self.get(name)
            if obj is None:
                raise DeploymentError(f"SeldonDeployment '{self.namespace}/{name}' disappeared while waiting for it")
            status = obj.get("status") or {}
            current = self.status_is_current(obj, meta, time.monotonic() - start)
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

    def status_is_current(self, obj: Mapping[str, Any], written: Mapping[str, Any], waited: float) -> bool:
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

    def pod_logs(self, name: str, container: str, tail: Optional[int] = None) -> Iterator[str]:
        """Log lines of `container` in every pod of the SeldonDeployment `name`, each prefixed with its pod."""
        from kubernetes.client.exceptions import ApiException

        core = self._client("CoreV1Api")
        try:
            pods = core.list_namespaced_pod(self.namespace, label_selector=f"{MODEL_POD_LABEL}={name}",
                                            _request_timeout=REQUEST_TIMEOUT).items
            for pod in sorted(pods, key=lambda p: p.metadata.name):
                text = core.read_namespaced_pod_log(pod.metadata.name, self.namespace, container=container,
                                                    tail_lines=tail, _request_timeout=REQUEST_TIMEOUT)
                for line in text.splitlines():
                    yield f"[{pod.metadata.name}] {line}"
        except ApiException as exc:
            raise DeploymentError(f"Kubernetes API refused to read the logs of '{self.namespace}/{name}': "
                                  f"{api_message(exc)}") from exc
