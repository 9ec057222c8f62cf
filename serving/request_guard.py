"""A Flask blueprint that answers malformed, empty or oversized request bodies with a 400 naming the problem.

Seldon registers the model's `model_error_handler` blueprint on its app. Without this guard a body that is not
JSON gets Seldon's generic "Can't find JSON in data", and an oversized body is read whole before anything looks
at it. Each rejection is reported to `on_reject(reason)` so it can be counted in the error metric.
"""

from __future__ import annotations

import json
from typing import Callable

MAX_PAYLOAD_BYTES = 16 * 1024 * 1024


def _seldon_error(message: str, status_code: int = 400, reason: str = "MICROSERVICE_BAD_DATA") -> Exception:
    from seldon_core.flask_utils import SeldonMicroserviceException

    return SeldonMicroserviceException(message, status_code=status_code, reason=reason)


def make_guard(on_reject: Callable[[str], None]):
    from flask import Blueprint, request

    guard = Blueprint("project_request_guard", __name__)

    def reject(kind: str, message: str) -> Exception:
        on_reject(kind)
        return _seldon_error(message)

    @guard.before_app_request
    def check_body():
        if request.method != "POST" or not request.path.endswith(("/predictions", "/predict")):
            return None
        size = request.content_length
        if size is not None and size > MAX_PAYLOAD_BYTES:
            _drain(request.stream, limit=4 * MAX_PAYLOAD_BYTES)  # else the client sees a reset, not our answer
            raise reject("too_large", f"payload too large: {size} bytes, the limit is {MAX_PAYLOAD_BYTES} bytes")
        body = request.get_data(cache=True)
        if len(body) > MAX_PAYLOAD_BYTES:
            raise reject("too_large", f"payload too large: {len(body)} bytes, the limit is {MAX_PAYLOAD_BYTES} bytes")
        if not body.strip():
            raise reject("empty_body", "empty payload: the request body is empty")
        if request.args.get("json") or "multipart/form-data" in (request.content_type or "") or (
            request.form and "json" in request.form
        ):
            return None  # Seldon's form-encoded variants: parsed by Seldon itself
        if not request.is_json:
            raise reject("content_type", f"unsupported Content-Type {request.content_type!r}: send application/json")
        if request.get_json(silent=True, cache=True) is None:
            try:
                json.loads(body)
            except ValueError as exc:
                raise reject("malformed_json", f"malformed JSON: {exc}") from None
        return None

    return guard


def _drain(stream, limit: int) -> None:
    """Read and drop up to `limit` bytes of a request body we refuse."""
    remaining = limit
    while remaining > 0:
        chunk = stream.read(min(remaining, 1 << 20))
        if not chunk:
            return
        remaining -= len(chunk)
