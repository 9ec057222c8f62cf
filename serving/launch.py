"""Run `seldon-core-microservice` bound to one host (127.0.0.1 locally) instead of its hard-coded 0.0.0.0.

Usage: python -m serving.launch <seldon-core-microservice arguments>. Environment:
  SERVING_BIND_HOST            host for the REST and metrics ports (default 127.0.0.1)
  SERVING_UNIX_SOCKET          optional extra unix socket for the REST app (the local ingress routes to it)
  SERVING_METRICS_UNIX_SOCKET  optional extra unix socket for the metrics app
Everything else (argument parsing, gunicorn, metrics server) is Seldon's own `microservice.main`; the model object
also gets Seldon's metrics store, to count requests rejected before they reach it.

Started as a warm standby by the local supervisor (`core.supervise --standby`), it imports Seldon and preloads the
model first, then waits to be promoted before Seldon starts serving.
"""

from __future__ import annotations

import json
import os
import sys
from typing import List

BIND_HOST_ENV = "SERVING_BIND_HOST"
UNIX_SOCKET_ENV = "SERVING_UNIX_SOCKET"
METRICS_UNIX_SOCKET_ENV = "SERVING_METRICS_UNIX_SOCKET"


def _rebind_gunicorn(host: str) -> None:
    from seldon_core import gunicorn_utils

    original = gunicorn_utils.StandaloneApplication.load_config

    def load_config(self):
        bind = self.options.get("bind")
        if bind:
            binds = [f"{host}:{bind.rsplit(':', 1)[1]}"]
            is_rest = isinstance(self, gunicorn_utils.UserModelApplication)
            extra = os.environ.get(UNIX_SOCKET_ENV if is_rest else METRICS_UNIX_SOCKET_ENV)
            if extra:
                binds.append(f"unix:{extra}")
            self.options["bind"] = binds
        original(self)

    # Both the REST app (UserModelApplication) and the metrics app inherit this method.
    gunicorn_utils.StandaloneApplication.load_config = load_config


def _hand_metrics_to_model() -> None:
    """Give the model object Seldon's metrics store, so requests rejected before prediction are counted too."""
    from seldon_core import wrapper

    original = wrapper.get_rest_microservice

    def get_rest_microservice(user_model, seldon_metrics):
        if hasattr(user_model, "seldon_metrics"):
            user_model.seldon_metrics = seldon_metrics
        return original(user_model, seldon_metrics)

    wrapper.get_rest_microservice = get_rest_microservice


def _preload_model(argv: List[str]) -> None:
    """What the workers will load, loaded now (the model class from argv, its --parameters)."""
    import importlib

    from seldon_core.microservice import parse_parameters

    module, _, name = argv[1].rpartition(".")
    parameters = parse_parameters(json.loads(argv[argv.index("--parameters") + 1]))
    getattr(importlib.import_module(module), name).preload(**parameters)


def _serve_once_promoted(argv: List[str]) -> None:
    """A warm standby: Seldon builds its app and metrics store, the model is loaded, the gunicorn modules are
    imported; only starting the servers (fork the workers, accept) waits until the supervisor promotes us."""
    from seldon_core import microservice

    from core import supervise

    original = microservice.start_servers

    def start_servers(*args, **kwargs):
        import gunicorn.arbiter  # noqa: F401 - imported by gunicorn once it runs; here, before the promotion
        import gunicorn.workers.gthread  # noqa: F401
        import gunicorn.workers.sync  # noqa: F401

        _preload_model(argv)
        supervise.wait_for_go()
        original(*args, **kwargs)

    microservice.start_servers = start_servers


def main() -> None:
    _rebind_gunicorn(os.environ.get(BIND_HOST_ENV, "127.0.0.1"))
    _hand_metrics_to_model()
    from seldon_core.microservice import main as seldon_main

    from core.supervise import GO_FD_ENV  # standard library only; serving.launch runs locally, beside core/

    if GO_FD_ENV in os.environ:
        _serve_once_promoted(sys.argv)
    seldon_main()


if __name__ == "__main__":
    main()
