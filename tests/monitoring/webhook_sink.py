"""A webhook receiver for tests: a tiny HTTP server on 127.0.0.1 that keeps every JSON body posted to it."""

from __future__ import annotations

import json
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List


class WebhookSink:
    """`url` receives POSTs; `wait_for(predicate, timeout)` returns the first body that matches."""

    def __init__(self, server: ThreadingHTTPServer, received: "queue.Queue[Dict[str, Any]]") -> None:
        self._server = server
        self._received = received
        self.bodies: List[Dict[str, Any]] = []
        self.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/test"

    def wait_for(self, predicate: Callable[[Dict[str, Any]], bool], timeout: float) -> Dict[str, Any]:
        """The first body (already received or arriving within `timeout` s) for which `predicate` holds."""
        for body in self.bodies:
            if predicate(body):
                return body
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                body = self._received.get(timeout=0.2)
            except queue.Empty:
                continue
            self.bodies.append(body)
            if predicate(body):
                return body
        raise AssertionError(f"no matching webhook body within {timeout:.0f} s; received: {self.bodies}")


@contextmanager
def webhook_sink() -> Iterator[WebhookSink]:
    received: "queue.Queue[Dict[str, Any]]" = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server API)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.put({"path": self.path, "content_type": self.headers.get("Content-Type", ""),
                          "json": json.loads(body or b"null")})
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield WebhookSink(server, received)
    finally:
        server.shutdown()
        server.server_close()
