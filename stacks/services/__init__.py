"""Local services a stack needs on this machine (PostgreSQL, MLflow server, ZenML server): start, stop, status.

A spec lists them under `services:`; ports come from its settings (`<service>_port`).
"""

from __future__ import annotations

from typing import Callable, Dict

from stacks.services.process import HOST, ManagedProcess, ServiceError, port_open
from stacks.spec import StackSpec

KNOWN = ("postgresql", "mlflow", "zenml")

__all__ = ["KNOWN", "ServiceError", "up", "down", "status", "port"]


def port(spec: StackSpec, service: str) -> int:
    """The TCP port of a service, from the spec setting `<service>_port`."""
    key = f"{service}_port"
    try:
        return int(spec.settings[key])
    except KeyError:
        raise ServiceError(f"{spec.path}: service '{service}' needs a setting '{key}'") from None
    except ValueError:
        raise ServiceError(f"{spec.path}: setting '{key}': expected a port number, found "
                           f"{spec.settings[key]!r}") from None


def _check_known(spec: StackSpec) -> None:
    unknown = [s for s in spec.services if s not in KNOWN]
    if unknown:
        raise ServiceError(f"{spec.path}: unknown service(s) {', '.join(unknown)}; known: {', '.join(KNOWN)}")


def up(spec: StackSpec, say: Callable[[str], None]) -> Dict[str, str]:
    """Starts the spec's services in order (each a no-op when already running). Returns service -> address."""
    from stacks.services import credentials, mlflow_server, postgres, zenml_server

    _check_known(spec)
    started: Dict[str, str] = {}
    db = credentials.ensure_secret(postgres.SECRET, postgres.ROLE) if "postgresql" in spec.services else None
    for service in spec.services:
        if service == "postgresql":
            postgres.start(port(spec, service), db["password"], say)
            started[service] = f"{HOST}:{port(spec, service)}"
        elif service == "mlflow":
            if db is None:
                raise ServiceError(f"{spec.path}: service 'mlflow' needs 'postgresql' before it in `services`")
            admin = credentials.ensure_secret(mlflow_server.SECRET, mlflow_server.ADMIN)
            started[service] = mlflow_server.start(port(spec, service), port(spec, "postgresql"), db["password"],
                                                   admin["password"], say)
        elif service == "zenml":
            started[service] = zenml_server.start(port(spec, service), say)
    return started


def down(spec: StackSpec, say: Callable[[str], None]) -> list[str]:
    """Stops the spec's services in reverse order. Returns the names of those that were running."""
    from stacks.services import zenml_server

    _check_known(spec)
    stopped = []
    for service in reversed(spec.services):
        if service == "zenml":
            was_running = zenml_server.stop(say)
        else:
            proc = ManagedProcess(service, port(spec, service))
            if proc.running():
                say(f"stopping {service}")
            was_running = proc.stop()
        if was_running:
            stopped.append(service)
    return stopped


def status(spec: StackSpec) -> Dict[str, str]:
    """Service -> 'running on <address>' | 'stopped' | a note when the port is taken by something else."""
    from stacks.services import zenml_server

    _check_known(spec)
    result = {}
    for service in spec.services:
        service_port = port(spec, service)
        if service == "zenml":
            running_url = zenml_server.url()
            running = running_url is not None and running_url.endswith(f":{service_port}")
        else:
            running = ManagedProcess(service, service_port).running()
        if running:
            result[service] = f"running on {HOST}:{service_port}"
        elif port_open(service_port):
            result[service] = f"stopped (port {service_port} is used by another program)"
        else:
            result[service] = "stopped"
    return result


def running(spec: StackSpec, service: str) -> bool:
    """Whether one of the spec's services is running."""
    return status(spec).get(service, "").startswith("running")
