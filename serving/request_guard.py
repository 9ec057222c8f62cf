"""What stands between a client and the model: every malformed, oversized or unsupported request gets a 4xx naming
the problem, never Seldon's generic 500.

Seldon registers the model's `model_error_handler` blueprint on its Flask app; this module hooks in there, with
public Flask APIs only:
- a WSGI middleware (installed when the blueprint is registered) caps the body at MAX_PAYLOAD_BYTES before anything
  reads it, with or without a Content-Length: a chunked body is read up to the limit and no further;
- a before-request check answers the prediction routes: POST, `application/json`, a JSON object. The body is decoded
  once, through Flask's cache, so Seldon's own `request.get_json()` reuses the result; a decoding failure of any kind
  (syntax, bad UTF-8, nesting deep enough to exhaust the recursion limit) is a 400 saying what went wrong;
- the feedback routes are served only when the model records what it serves (labels join its prediction log) and
  then get exactly the prediction routes' checks; otherwise they, like Seldon's other payload routes (transform,
  route, aggregate), which decode bodies outside any guard and which this model does not implement, answer 404
  naming the routes it serves;
- werkzeug HTTP errors (404, 405, ...) keep their status instead of Seldon's catch-all 500.
The ingress in front (nginx locally) enforces the same limit: `stacks/seldon/local_ingress.py` reads it from here.
Each rejection is reported to `on_reject(kind)`, so it is counted in the error metric.
"""

from __future__ import annotations

import io
import json
from typing import Callable, Iterable, Optional

MAX_PAYLOAD_BYTES = 16 * 1024 * 1024
# How much of a refused body we still read so the client gets our answer rather than a connection reset.
DRAIN_LIMIT = 4 * MAX_PAYLOAD_BYTES
PREDICT_PATHS = ("/api/v1.0/predictions", "/api/v0.1/predictions", "/predict")
FEEDBACK_PATHS = ("/api/v1.0/feedback", "/api/v0.1/feedback", "/send-feedback")
FEEDBACK_ENDPOINT = "SendFeedback"
# Seldon's endpoints (view function names) that decode a payload this model has no method for.
UNSERVED_ENDPOINTS = frozenset({FEEDBACK_ENDPOINT, "TransformInput", "TransformOutput", "Route", "Aggregate"})
BAD_DATA = "MICROSERVICE_BAD_DATA"


def _seldon_error(message: str, status_code: int = 400, reason: str = BAD_DATA) -> Exception:
    from seldon_core.flask_utils import SeldonMicroserviceException

    return SeldonMicroserviceException(message, status_code=status_code, reason=reason)


def error_body(message: str, status_code: int, reason: str = BAD_DATA) -> bytes:
    """The JSON error body Seldon itself answers with (status.status 1, code -1), for answers given outside Flask."""
    return json.dumps({"status": {"status": 1, "info": message, "code": -1, "reason": reason}}).encode()


def too_large_message(size: Optional[int]) -> str:
    found = f"{size} bytes" if size is not None else f"more than {MAX_PAYLOAD_BYTES} bytes (chunked)"
    return f"payload too large: {found}, the limit is {MAX_PAYLOAD_BYTES} bytes; send fewer rows per request"


class BodyLimit:
    """WSGI middleware: a body over `limit` bytes is answered 413 before the app sees it, chunked or not.

    A chunked body (no Content-Length) that fits is handed on as a plain buffer with its Content-Length, so nothing
    downstream ever reads an unbounded stream.
    """

    def __init__(self, app, limit: int, on_reject: Callable[[str], None]):
        self.app, self.limit, self.on_reject = app, limit, on_reject

    def __call__(self, environ, start_response):
        declared = environ.get("CONTENT_LENGTH") or None
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                return self._refuse(environ, start_response, 400, f"invalid Content-Length {declared[:40]!r}",
                                    "bad_length", drain=False)
            if size > self.limit:
                return self._refuse(environ, start_response, 413, too_large_message(size), "too_large")
            return self.app(environ, start_response)
        if "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            return self.app(environ, start_response)  # no body at all
        body = _read_up_to(environ["wsgi.input"], self.limit + 1)
        if len(body) > self.limit:
            return self._refuse(environ, start_response, 413, too_large_message(None), "too_large")
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.app(environ, start_response)

    def _refuse(self, environ, start_response, status: int, message: str, kind: str, drain: bool = True) -> Iterable:
        self.on_reject(kind)
        if drain:
            _read_up_to(environ["wsgi.input"], DRAIN_LIMIT, keep=False)
        body = error_body(message, status)
        phrase = {400: "BAD REQUEST", 413: "REQUEST ENTITY TOO LARGE"}[status]
        start_response(f"{status} {phrase}", [("Content-Type", "application/json"),
                                              ("Content-Length", str(len(body)))])
        return [body]


def _read_up_to(stream, limit: int, keep: bool = True) -> bytes:
    """Read at most `limit` bytes of a request body (kept, or dropped when `keep` is false)."""
    parts, remaining = [], limit
    while remaining > 0:
        chunk = stream.read(min(remaining, 1 << 20))
        if not chunk:
            break
        remaining -= len(chunk)
        if keep:
            parts.append(chunk)
    return b"".join(parts)


def make_guard(on_reject: Callable[[str], None], feedback: bool = False):
    """The blueprint Seldon registers as the model's error handler (see the module docstring); `feedback` opens
    the feedback routes (with the same body checks as predictions)."""
    from flask import Blueprint, request
    from werkzeug.exceptions import BadRequest, HTTPException

    guard = Blueprint("project_request_guard", __name__)

    @guard.record_once
    def install_body_limit(state) -> None:
        state.app.wsgi_app = BodyLimit(state.app.wsgi_app, MAX_PAYLOAD_BYTES, on_reject)

    def reject(kind: str, message: str, status: int = 400) -> Exception:
        on_reject(kind)
        return _seldon_error(message, status_code=status)

    @guard.app_errorhandler(HTTPException)
    def keep_http_status(exc: HTTPException):
        return _json_response(error_body(f"{exc.name}: {exc.description}", exc.code or 500), exc.code or 500)

    unserved = UNSERVED_ENDPOINTS - {FEEDBACK_ENDPOINT} if feedback else UNSERVED_ENDPOINTS
    guarded = PREDICT_PATHS + FEEDBACK_PATHS if feedback else PREDICT_PATHS

    @guard.before_app_request
    def check_body():
        if request.endpoint in unserved:
            served = f"{PREDICT_PATHS[0]}" + (f" and {FEEDBACK_PATHS[0]}" if feedback else "")
            raise reject("unsupported_route", f"{request.path} is not served by this model: it serves {served} "
                                              "(POST, application/json)", status=404)
        if request.path not in guarded or request.method == "OPTIONS":  # OPTIONS: CORS preflight
            return None
        if request.method != "POST":
            what = "feedback" if request.path in FEEDBACK_PATHS else "predictions"
            raise reject("method", f"{request.method} {request.path}: send {what} with POST", status=405)
        if "json" in request.args:
            raise reject("query_payload", "the 'json' query parameter is not accepted: send the payload as the "
                                          "request body (application/json)")
        if not request.is_json:
            raise reject("content_type", f"unsupported Content-Type {_short(repr(request.content_type))}: "
                                         "send the payload as an application/json body")
        body = request.get_data(cache=True)  # bounded by BodyLimit
        if not body.strip():
            raise reject("empty_body", "empty payload: the request body is empty")
        try:
            payload = request.get_json(cache=True)  # cached: Seldon's get_json() returns this very object
        except (BadRequest, RecursionError, ValueError, OverflowError):
            raise reject("malformed_json", f"malformed JSON: {_decoding_error(body)}") from None
        if not isinstance(payload, dict):
            raise reject("not_an_object", f"expected a JSON object, found {type(payload).__name__}: send "
                                           "{'data': {'names': [...], 'ndarray': [[...]]}} or {'jsonData': ...}")
        return None

    return guard


def _json_response(body: bytes, status: int):
    from flask import current_app

    return current_app.response_class(response=body, status=status, mimetype="application/json")


def _decoding_error(body: bytes) -> str:
    """Why `body` is not JSON, in the decoder's words (position, bad bytes, digit limit) or 'nested too deeply'."""
    try:
        json.loads(body)
    except RecursionError:
        return "nested too deeply"
    except (ValueError, OverflowError) as exc:  # UnicodeDecodeError is a ValueError
        return _short(str(exc), 300)
    return "not decodable"


def _short(text: str, limit: int = 80) -> str:
    """A bounded message fragment: a client must not get its own megabytes back."""
    return text if len(text) <= limit else text[: limit - 3] + "..."
