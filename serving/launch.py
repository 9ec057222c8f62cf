"""Run `seldon-core-microservice` bound to one host (127.0.0.1 locally) instead of its hard-coded 0.0.0.0.

Usage: python -m serving.launch <seldon-core-microservice arguments>; the bind host comes from $SERVING_BIND_HOST.
Everything else (argument parsing, gunicorn, metrics server) is Seldon's own `microservice.main`.
"""

from __future__ import annotations

import os

BIND_HOST_ENV = "SERVING_BIND_HOST"


def _rebind_gunicorn(host: str) -> None:
    from seldon_core import gunicorn_utils

    original = gunicorn_utils.StandaloneApplication.load_config

    def load_config(self):
        bind = self.options.get("bind")
        if bind:
            self.options["bind"] = f"{host}:{bind.rsplit(':', 1)[1]}"
        original(self)

    # Both the REST app (UserModelApplication) and the metrics app inherit this method.
    gunicorn_utils.StandaloneApplication.load_config = load_config


def main() -> None:
    host = os.environ.get(BIND_HOST_ENV, "127.0.0.1")
    _rebind_gunicorn(host)
    from seldon_core.microservice import main as seldon_main

    seldon_main()


if __name__ == "__main__":
    main()
