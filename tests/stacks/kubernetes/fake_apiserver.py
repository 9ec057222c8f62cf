"""A stateful fake of the Kubernetes API server for namespaced SeldonDeployments and their model pods.

A real HTTP server on 127.0.0.1 (random port) that the official `kubernetes` client talks to unchanged. It keeps
the API server's semantics the backend relies on: resourceVersion and generation, 404/409/422 answers with Status
bodies, the status subresource (writes to the main resource never change status), merge-patch, label selectors,
and validation of every written SeldonDeployment against the CRD's openAPIV3Schema (unknown fields are pruned with
a Warning header, as with fieldValidation=Warn, the default for clients that do not ask for Strict).

The Seldon operator's part is scripted: its admission webhooks in seldon_admission.py, its reconciler (status,
model pods and their logs) in fake_operator.py. It runs when an object is read; a status change moves the
object's resourceVersion on like any write.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple

from tests.stacks.kubernetes.crd_schema import crd_errors, prune, unknown_fields
from tests.stacks.kubernetes.fake_operator import ScriptedSeldonOperator
from tests.stacks.kubernetes.seldon_admission import admission_errors, apply_defaults

GROUP, VERSION, PLURAL, KIND = "machinelearning.seldon.io", "v1", "seldondeployments", "SeldonDeployment"
_PATH = re.compile(rf"^/apis/{re.escape(GROUP)}/{VERSION}/namespaces/([^/]+)/{PLURAL}(?:/([^/]+))?/?$")
_PODS = re.compile(r"^/api/v1/namespaces/([^/]+)/pods(?:/([^/]+)/log)?/?$")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
            409: "Conflict", 415: "UnsupportedMediaType", 422: "Invalid", 500: "InternalError",
            503: "ServiceUnavailable"}


class ApiError(Exception):
    def __init__(self, code: int, message: str, reason: Optional[str] = None) -> None:
        super().__init__(message)
        self.code, self.message, self.reason = code, message, reason or _REASONS.get(code, "Unknown")


@dataclasses.dataclass
class Refusal:
    verb: str  # get, list, create, update, patch, delete
    code: int
    message: str
    name: Optional[str] = None  # only for this object
    times: Optional[int] = None  # refuse this many times, then allow; None: always
    after: int = 0  # let this many matching requests through first


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class FakeKubernetesApi:
    """The fake API server and its controls; use as a context manager, or start()/stop()."""

    def __init__(self, ready_after_polls: int = 2, lag_polls: int = 1, crd_installed: bool = True,
                 observed_generation: bool = False) -> None:
        self.operator = ScriptedSeldonOperator(ready_after_polls, lag_polls, observed_generation)
        self.crd_installed = crd_installed
        self.deletion_polls = 0  # reads an object stays visible (deletionTimestamp set) after DELETE
        self.refusals: List[Refusal] = []
        self.requests: List[Tuple[str, str]] = []  # (verb, name)
        self.warnings: List[str] = []
        self.history: Dict[str, List[Dict[str, Any]]] = {}  # name -> every stored spec, in order
        self._objects: Dict[Tuple[str, str], Dict[str, Any]] = {}
        self._deleting: Dict[Tuple[str, str], int] = {}
        self._revision = 100
        self._lock = threading.Lock()
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    # -- lifecycle and test helpers ---------------------------------------------------------------------------

    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

            def _serve(self) -> None:
                fake._handle(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="fake-kube-api", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)  # type: ignore[union-attr]
            self._server = None

    def __enter__(self) -> "FakeKubernetesApi":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]  # type: ignore[union-attr]
        return f"http://{host}:{port}"

    def api_client(self) -> Any:
        """A kubernetes.client.ApiClient pointed at this server."""
        from kubernetes import client

        return client.ApiClient(client.Configuration(host=self.url))

    def refuse(self, verb: str, code: int, message: str = "refused by test", name: Optional[str] = None,
               times: Optional[int] = None, after: int = 0) -> None:
        """Answer `verb` requests (optionally for `name` only) with `code`, after `after` allowed ones."""
        self.refusals.append(Refusal(verb, code, message, name, times, after))

    def get(self, namespace: str, name: str) -> Optional[Dict[str, Any]]:
        """The stored object (no operator step), or None."""
        with self._lock:
            obj = self._objects.get((namespace, name))
            return copy.deepcopy(obj) if obj else None

    def put_raw(self, obj: Dict[str, Any]) -> None:
        """Store an object as if someone else created it (no validation)."""
        with self._lock:
            key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
            self._objects[key] = self._stamp(copy.deepcopy(obj), None)

    # -- HTTP ---------------------------------------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        path, _, query = request.path.partition("?")
        params = {key: values[-1] for key, values in urllib.parse.parse_qs(query).items()}
        try:
            pods = _PODS.match(path)
            if pods and request.command == "GET":
                with self._lock:
                    self.requests.append(("logs" if pods.group(2) else "pods", pods.group(2) or ""))
                    self._check_refusals("logs" if pods.group(2) else "pods", pods.group(2))
                    objects = [o for k, o in sorted(self._objects.items()) if k[0] == pods.group(1)]
                    if pods.group(2):
                        text = self.operator.pod_log(objects, pods.group(2), params.get("container"),
                                                     int(params["tailLines"]) if "tailLines" in params else None)
                        if text is None:
                            raise ApiError(404, f'pods "{pods.group(2)}" not found, or has no container '
                                                f'{params.get("container")!r}')
                        return self._reply(request, 200, text, [])
                    selector = dict(t.split("=", 1) for t in params.get("labelSelector", "").split(",") if t)
                    items = [p for p in self.operator.pods(objects)
                             if selector.items() <= p["metadata"]["labels"].items()]
                return self._reply(request, 200, {"kind": "PodList", "apiVersion": "v1", "metadata": {},
                                                  "items": items}, [])
            match = _PATH.match(path)
            if not match or not self.crd_installed:
                raise ApiError(404, "the server could not find the requested resource")
            namespace, name = match.groups()
            verb = {"GET": "get" if name else "list", "POST": "create", "PUT": "update", "PATCH": "patch",
                    "DELETE": "delete"}[request.command]
            if (verb in ("create", "list")) != (name is None):
                raise ApiError(405, f"{request.command} is not allowed on this path")
            length = int(request.headers.get("Content-Length") or 0)
            raw = request.rfile.read(length) if length else b""
            with self._lock:
                self.requests.append((verb, name or ""))
                self._check_refusals(verb, name)
                body = json.loads(raw) if raw else None
                code, result, warnings = getattr(self, f"_{verb}")(
                    namespace, name, body, params, request.headers.get("Content-Type", ""))
            self._reply(request, code, result, warnings)
        except ApiError as err:
            status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": err.message, "reason": err.reason, "code": err.code}
            self._reply(request, err.code, status, [])
        except json.JSONDecodeError as err:
            self._reply(request, 400, {"kind": "Status", "status": "Failure", "reason": "BadRequest",
                                       "message": f"invalid JSON: {err}", "code": 400}, [])

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, code: int, payload: Any, warnings: List[str]) -> None:
        text = isinstance(payload, str)  # pod logs are plain text
        data = payload.encode() if text else json.dumps(payload).encode()
        request.send_response(code)
        request.send_header("Content-Type", "text/plain" if text else "application/json")
        request.send_header("Content-Length", str(len(data)))
        for warning in warnings:
            request.send_header("Warning", f'299 - "{warning}"')
        request.end_headers()
        request.wfile.write(data)

    def _check_refusals(self, verb: str, name: Optional[str]) -> None:
        for rule in self.refusals:
            if rule.verb == verb and rule.name in (None, name) and rule.times != 0:
                if rule.after > 0:
                    rule.after -= 1
                    continue
                if rule.times is not None:
                    rule.times -= 1
                raise ApiError(rule.code, rule.message)

    # -- verbs (called with the lock held) ----------------------------------------------------------------------

    def _not_found(self, name: str) -> ApiError:
        return ApiError(404, f'{PLURAL}.{GROUP} "{name}" not found')

    def _admit(self, namespace: str, name: Optional[str], body: Any) -> Tuple[Dict[str, Any], List[str]]:
        """Check and prune an incoming object as the API server does before storing it."""
        if not isinstance(body, dict) or body.get("apiVersion") != f"{GROUP}/{VERSION}" or body.get("kind") != KIND:
            raise ApiError(400, f"expected apiVersion {GROUP}/{VERSION} kind {KIND}")
        meta = body.setdefault("metadata", {})
        obj_name = meta.get("name", "")
        if name is not None and obj_name != name:
            raise ApiError(400, f"the name of the object ({obj_name}) does not match the name on the URL ({name})")
        if meta.get("namespace", namespace) != namespace:
            raise ApiError(400, "the namespace of the provided object does not match the namespace sent on the request")
        problems = [] if _NAME.match(obj_name) and len(obj_name) <= 253 else [
            f"metadata.name: Invalid value: {obj_name!r}: a lowercase RFC 1123 subdomain must consist of lower case "
            "alphanumeric characters, '-' or '.'"]
        problems += crd_errors(body, strict=False)
        if problems:
            raise ApiError(422, f'{KIND}.{GROUP} "{obj_name}" is invalid: ' + "; ".join(problems))
        warnings = [f'unknown field "{path}"' for path in unknown_fields(body)]
        obj = prune(copy.deepcopy(body))
        denied = admission_errors(obj.get("spec") or {}, self.operator.servers)
        if denied:  # the operator's validating webhook; its mutating webhook runs first
            raise ApiError(422, f'admission webhook "v1.vseldondeployment.kb.io" denied the request: {KIND} '
                                f'"{obj_name}" is invalid: ' + "; ".join(denied))
        apply_defaults(obj["spec"])
        self.warnings.extend(warnings)
        return obj, warnings

    def _stamp(self, obj: Dict[str, Any], previous: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        """Set server-owned metadata; keep status (a subresource) and bump generation on spec changes."""
        self._revision += 1
        meta = obj["metadata"]
        old = (previous or {}).get("metadata", {})
        meta["namespace"] = meta.get("namespace") or old.get("namespace")
        meta["uid"] = old.get("uid") or str(uuid.uuid4())
        meta["creationTimestamp"] = old.get("creationTimestamp") or "2026-01-01T00:00:00Z"
        meta["resourceVersion"] = str(self._revision)
        changed = previous is None or previous.get("spec") != obj.get("spec")
        meta["generation"] = old.get("generation", 0) + 1 if changed else old.get("generation", 1)
        obj["status"] = copy.deepcopy((previous or {}).get("status") or {})
        key = (meta["namespace"], meta["name"])
        if changed:
            self.operator.spec_changed(key, previous, obj)
            self.history.setdefault(meta["name"], []).append(copy.deepcopy(obj.get("spec")))
        return obj

    def _list(self, namespace, name, body, params, content_type):
        wanted = dict(term.split("=", 1) for term in params.get("labelSelector", "").split(",") if term)
        items = [copy.deepcopy(self._reconcile(key)) for key, obj in sorted(self._objects.items())
                 if key[0] == namespace and all((obj["metadata"].get("labels") or {}).get(k) == v
                                                for k, v in wanted.items())]
        items = [item for item in items if item]
        return 200, {"apiVersion": f"{GROUP}/{VERSION}", "kind": f"{KIND}List", "items": items,
                     "metadata": {"resourceVersion": str(self._revision)}}, []

    def _get(self, namespace, name, body, params, content_type):
        obj = self._reconcile((namespace, name))
        if obj is None:
            raise self._not_found(name)
        return 200, copy.deepcopy(obj), []

    def _create(self, namespace, name, body, params, content_type):
        if ((body or {}).get("metadata") or {}).get("resourceVersion"):
            raise ApiError(400, "resourceVersion should not be set on objects to be created")
        obj, warnings = self._admit(namespace, None, body)
        key = (namespace, obj["metadata"]["name"])
        if key in self._objects:
            raise ApiError(409, f'{PLURAL}.{GROUP} "{key[1]}" already exists', "AlreadyExists")
        obj["metadata"]["namespace"] = namespace
        self._objects[key] = self._stamp(obj, None)
        return 201, copy.deepcopy(self._objects[key]), warnings

    def _update(self, namespace, name, body, params, content_type):
        current = self._objects.get((namespace, name))
        if current is None:
            raise self._not_found(name)
        version = (body or {}).get("metadata", {}).get("resourceVersion")
        if not version:
            raise ApiError(422, f'{KIND}.{GROUP} "{name}" is invalid: metadata.resourceVersion: Invalid value: '
                                '0x0: must be specified for an update')
        if version != current["metadata"]["resourceVersion"]:
            raise ApiError(409, f'Operation cannot be fulfilled on {PLURAL}.{GROUP} "{name}": the object has been '
                                "modified; please apply your changes to the latest version and try again")
        obj, warnings = self._admit(namespace, name, body)
        self._objects[(namespace, name)] = self._stamp(obj, current)
        return 200, copy.deepcopy(self._objects[(namespace, name)]), warnings

    def _patch(self, namespace, name, body, params, content_type):
        if not content_type.startswith("application/merge-patch+json"):
            raise ApiError(415, f"the body of the request was in an unknown format - accepted media types include: "
                                f"application/merge-patch+json (got {content_type})")
        current = self._objects.get((namespace, name))
        if current is None:
            raise self._not_found(name)
        merged = merge_patch(current, body)
        merged["metadata"]["resourceVersion"] = merged["metadata"].get("resourceVersion") or \
            current["metadata"]["resourceVersion"]
        return self._update(namespace, name, merged, params, "")

    def _delete(self, namespace, name, body, params, content_type):
        key = (namespace, name)
        obj = self._objects.get(key)
        if obj is None:
            raise self._not_found(name)
        if self.deletion_polls > 0:
            obj["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:01Z"
            self._deleting.setdefault(key, self.deletion_polls)
        else:
            del self._objects[key]
        return 200, {"kind": "Status", "apiVersion": "v1", "status": "Success",
                     "details": {"name": name, "group": GROUP, "kind": PLURAL, "uid": obj["metadata"]["uid"]}}, []

    # -- the operator's turn -----------------------------------------------------------------------------------

    def _reconcile(self, key: Tuple[str, str]) -> Optional[Dict[str, Any]]:
        obj = self._objects.get(key)
        if obj is None:
            return None
        if key in self._deleting:
            self._deleting[key] -= 1
            if self._deleting[key] < 0:
                del self._deleting[key], self._objects[key]
                return None
            return obj
        status = self.operator.status_for(key, obj)
        if status is not None and status != obj.get("status"):  # a status write moves resourceVersion on
            self._revision += 1
            obj["status"], obj["metadata"]["resourceVersion"] = status, str(self._revision)
        return obj
