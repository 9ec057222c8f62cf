"""A ZenML service that stands for one named Seldon deployment, so `zenml model-deployer models ...` can see it.

The service holds no process of its own: status, start, stop and logs go to the deployment backend, rebuilt from
the plain options stored in the service config (so the CLI works whichever stack is active).
"""

from __future__ import annotations

from typing import Any, Dict, Generator, Optional, Tuple

from zenml.services import ServiceState, ServiceType
from zenml.services.service import BaseDeploymentService, ServiceConfig

from stacks.seldon.spec import DeploymentBackend, DeploymentInfo

SERVICE_TYPE = ServiceType(
    name="project-seldon-deployment",
    type="model-serving",
    flavor="project_seldon",
    description="A Seldon Core microservice serving an MLflow model (local daemons or Kubernetes)",
    logo_url="https://public-flavor-logos.s3.eu-central-1.amazonaws.com/model_deployer/seldon.png",
)
_STATES = {
    "active": ServiceState.ACTIVE,
    "pending": ServiceState.PENDING_STARTUP,
    "stopped": ServiceState.INACTIVE,
    "failed": ServiceState.ERROR,
}


def service_name(deployment_name: str) -> str:
    return f"seldon-{deployment_name}"


class SeldonDeploymentServiceConfig(ServiceConfig):
    """What was deployed, where it answers, and how to reach its backend again."""

    deployment_name: str
    model_uri: str = ""
    run_id: str = ""
    url: str = ""
    backend_options: Dict[str, Any] = {}


class SeldonDeploymentService(BaseDeploymentService):
    """One named deployment, as a ZenML model-serving service."""

    SERVICE_TYPE = SERVICE_TYPE
    config: SeldonDeploymentServiceConfig

    def backend(self) -> DeploymentBackend:
        from stacks.seldon.backends import make_backend

        return make_backend(self.config.backend_options)

    def info(self) -> Optional[DeploymentInfo]:
        return self.backend().status(self.config.deployment_name)

    def check_status(self) -> Tuple[ServiceState, str]:
        info = self.info()
        if info is None:
            return ServiceState.INACTIVE, f"no deployment called {self.config.deployment_name!r}"
        return _STATES.get(info.state, ServiceState.ERROR), str(info.details.get("problem", ""))

    def provision(self) -> None:
        self.backend().start(self.config.deployment_name)  # type: ignore[attr-defined]

    def deprovision(self, force: bool = False) -> None:
        self.backend().stop(self.config.deployment_name)  # type: ignore[attr-defined]

    def get_logs(self, follow: bool = False, tail: Optional[int] = None) -> Generator[str, bool, None]:
        backend = self.backend()
        yield from backend.logs(self.config.deployment_name, tail=tail, follow=follow)  # type: ignore[attr-defined]

    @property
    def prediction_url(self) -> Optional[str]:
        return self.config.url or None

    @property
    def healthcheck_url(self) -> Optional[str]:
        if not self.config.url:
            return None
        return self.config.url.rsplit("/api/", 1)[0] + "/health/status"
