"""The project's Seldon model deployer: one entry point for the deployment step, whichever backend serves.

`deploy(spec, verify)` hands the spec to the backend (blue/green locally, SeldonDeployment rollouts on Kubernetes)
and then records the deployment as a ZenML service keyed by the deployment name, so a redeploy updates the one
record instead of leaving a stale one behind (ZenML's own deployer steps look services up by config and so keep
serving the old model).
"""

from __future__ import annotations

import logging
from typing import Any, Callable, ClassVar, Dict, List, Optional, Type, cast
from urllib.parse import urlparse
from uuid import UUID

from zenml.client import Client
from zenml.model_deployers import BaseModelDeployer
from zenml.model_deployers.base_model_deployer import BaseModelDeployerFlavor, get_model_version_id_if_exists
from zenml.services import BaseService, ServiceConfig, ServiceState
from zenml.services.service_status import ServiceStatus

from serving.identity import ModelIdentity
from stacks.seldon.backends import backend_options, make_backend
from stacks.seldon.flavor import SeldonModelDeployerConfig, SeldonModelDeployerFlavor
from stacks.seldon.service import SERVICE_TYPE, SeldonDeploymentService, SeldonDeploymentServiceConfig, service_name
from stacks.seldon.spec import DeploymentBackend, DeploymentError, DeploymentInfo, ModelDeploymentSpec, TrafficSplit

logger = logging.getLogger(__name__)


class SeldonModelDeployer(BaseModelDeployer):
    """Serves models with the project's Seldon model class, through a local or a Kubernetes backend."""

    NAME: ClassVar[str] = "Seldon (project)"
    FLAVOR: ClassVar[Type[BaseModelDeployerFlavor]] = SeldonModelDeployerFlavor

    @property
    def config(self) -> SeldonModelDeployerConfig:
        return cast(SeldonModelDeployerConfig, self._config)

    def backend(self) -> DeploymentBackend:
        return make_backend(self.config)

    # -- the project's API (called by the deployment step and run.py) -------------------------------------------
    def default_spec(self, **fields) -> ModelDeploymentSpec:
        """A spec with this deployer's rollout defaults (rollout, canary share, replicas, resources, workers)."""
        defaults = dict(rollout=self.config.rollout, canary_traffic_percent=self.config.canary_traffic_percent,
                        replicas=self.config.replicas, resources=dict(self.config.resources),
                        workers=self.config.workers, threads=self.config.threads)
        return ModelDeploymentSpec(**{**defaults, **fields})

    def deploy(
        self, spec: ModelDeploymentSpec, verify: Optional[Callable[[str], None]] = None, timeout: float = 300.0
    ) -> DeploymentInfo:
        """Serve `spec` behind its stable URL and record it as a ZenML service; DeploymentError leaves the old one."""
        if self.config.backend == "local" and spec.rollout != "replace":
            raise DeploymentError(
                f"rollout {spec.rollout!r} needs the kubernetes backend; the local backend does blue/green 'replace'"
            )
        info = self.backend().deploy(spec, timeout=timeout, verify=verify)
        try:
            self._record(spec, info)
        except Exception as exc:  # the model serves; only the ZenML bookkeeping failed
            logger.warning("deployment %s serves at %s but could not be recorded as a ZenML service: %s",
                           spec.name, info.url, exc)
        return info

    def list_deployments(self) -> List[DeploymentInfo]:
        """Every deployment the backend manages, with its state and stable URL."""
        return self.backend().list()

    def status(self, name: str) -> Optional[DeploymentInfo]:
        return self.backend().status(name)

    def start(self, name: str, timeout: float = 300.0) -> DeploymentInfo:
        """Serve a stopped (or crashed) deployment again from its recorded model and settings."""
        if self.backend().status(name) is None:
            known = ", ".join(d.name for d in self.list_deployments()) or "none"
            raise DeploymentError(f"no deployment called {name!r} (deployments: {known})")
        return self.backend().start(name, timeout=timeout)

    def stop(self, name: str, timeout: float = 60.0) -> None:
        """Stop serving `name` but keep its record, so `start(name)` brings the same model back."""
        if self.backend().status(name) is None:
            raise DeploymentError(f"no deployment called {name!r}")
        self.backend().stop(name, timeout=timeout)

    # -- A/B tests (stacks/seldon/spec.py: DeploymentBackend.start_challenger ...) ---------------------------------
    def start_challenger(self, spec: ModelDeploymentSpec, split: TrafficSplit,
                         verify: Optional[Callable[[str], None]] = None, timeout: float = 300.0) -> DeploymentInfo:
        """Serve `spec` as challenger beside the champion of `spec.name`, checked like a deploy."""
        return self.backend().start_challenger(spec, split, timeout=timeout, verify=verify)

    def end_challenger(self, name: str, promote: bool, timeout: float = 300.0) -> DeploymentInfo:
        """Promote the challenger to the only serving model (recorded as the ZenML service), or remove it."""
        test = self.backend().challenger(name)
        info = self.backend().end_challenger(name, promote, timeout=timeout)
        if promote and test:
            try:
                self._record(ModelDeploymentSpec.from_dict(test["spec"]), info)
            except Exception as exc:  # the model serves; only the ZenML bookkeeping failed
                logger.warning("deployment %s serves the promoted challenger at %s but could not be recorded as a "
                               "ZenML service: %s", name, info.url, exc)
        return info

    def challenger(self, name: str) -> Optional[Dict[str, Any]]:
        return self.backend().challenger(name)

    def variant_traffic(self, name: str, since: float) -> Dict[str, Dict[str, Any]]:
        return self.backend().variant_traffic(name, since)

    def delete(self, name: str, timeout: float = 60.0) -> None:
        """Stop serving `name` and remove it from the backend and from ZenML's services."""
        self.backend().delete(name, timeout=timeout)
        client = Client()
        for svc in self._services(name):
            client.delete_service(svc.id)

    # -- ZenML bookkeeping ----------------------------------------------------------------------------------------
    def _services(self, name: str) -> list:
        return Client().list_services(service_name=service_name(name), type=SERVICE_TYPE.type,
                                      flavor=SERVICE_TYPE.flavor, size=100).items

    def _record(self, spec: ModelDeploymentSpec, info: DeploymentInfo) -> SeldonDeploymentService:
        """Create the service record for this deployment, then drop the records of the versions it replaced."""
        client = Client()
        previous = self._services(spec.name)
        config = SeldonDeploymentServiceConfig(
            name=spec.name, service_name=service_name(spec.name), model_name=spec.model.name,
            model_version=spec.model.version, deployment_name=spec.name, model_uri=spec.model.uri,
            run_id=spec.model.run_id, url=info.url, backend_options=backend_options(self.config), **_step_context(),
        )
        response = client.create_service(
            config=config, service_type=SERVICE_TYPE,
            model_version_id=get_model_version_id_if_exists(spec.model.name, spec.model.version),
        )
        service = SeldonDeploymentService(
            uuid=response.id, config=config, admin_state=ServiceState.ACTIVE,
            status=ServiceStatus(state=ServiceState.ACTIVE if info.state == "active" else ServiceState.ERROR),
        )
        self._store(service)
        for old in previous:
            client.delete_service(old.id)
        return service

    @staticmethod
    def _store(service: BaseService) -> None:
        Client().update_service(
            id=service.uuid, name=service.config.service_name, service_source=service.model_dump().get("type"),
            admin_state=service.admin_state, status=service.status.model_dump(),
            prediction_url=service.get_prediction_url(),
            health_check_url=getattr(service, "healthcheck_url", None),
        )

    # -- BaseModelDeployer (generic ZenML API: `zenml model-deployer models ...`) ----------------------------------
    def perform_deploy_model(self, id: UUID, config: ServiceConfig, timeout: int = 300) -> BaseService:
        cfg = cast(SeldonDeploymentServiceConfig, config)
        spec = self.default_spec(name=cfg.deployment_name, model=ModelIdentity(
            name=cfg.model_name, version=cfg.model_version, uri=cfg.model_uri, run_id=cfg.run_id))
        info = self.backend().deploy(spec, timeout=timeout)
        cfg.url, cfg.backend_options = info.url, backend_options(self.config)
        return SeldonDeploymentService(uuid=id, config=cfg, admin_state=ServiceState.ACTIVE,
                                       status=ServiceStatus(state=ServiceState.ACTIVE))

    @staticmethod
    def get_model_server_info(service: BaseService) -> Dict[str, Optional[str]]:
        svc = cast(SeldonDeploymentService, service)
        info = svc.info()
        details = info.details if info else {}
        base = (svc.prediction_url or "").rsplit("/api/", 1)[0]
        return {
            "PREDICTION_URL": svc.prediction_url,
            "PREDICTION_HOSTNAME": urlparse(base).netloc or None,
            "PREDICTION_APIS_URLS": f"{base}/api/v1.0/metadata {base}/health/status" if base else None,
            "HEALTH_CHECK_URL": svc.healthcheck_url,
            "METRICS_URL": details.get("metrics_url"),
            "MODEL_URI": svc.config.model_uri,
            "MODEL_VERSION": svc.config.model_version,
            "MLFLOW_RUN_ID": svc.config.run_id,
            "BACKEND": svc.config.backend_options.get("backend"),
            "DEPLOYMENT_STATE": info.state if info else "missing",
        }

    def perform_stop_model(self, service: BaseService, timeout: int = 60, force: bool = False) -> BaseService:
        service.stop(timeout=0, force=force)
        service.update_status()
        return service

    def perform_start_model(self, service: BaseService, timeout: int = 300) -> BaseService:
        service.start(timeout=0)
        service.update_status()
        return service

    def perform_delete_model(self, service: BaseService, timeout: int = 60, force: bool = False) -> None:
        self.backend_for(service).delete(cast(SeldonDeploymentService, service).config.deployment_name, timeout)

    @staticmethod
    def backend_for(service: BaseService) -> DeploymentBackend:
        return cast(SeldonDeploymentService, service).backend()


def _step_context() -> Dict[str, str]:
    """Pipeline and step names when called inside a step (shown by `zenml model-deployer models list`)."""
    try:
        from zenml import get_step_context

        context = get_step_context()
        return {"pipeline_name": context.pipeline.name, "pipeline_step_name": context.step_run.name}
    except Exception:  # outside a step: no context, nothing to record
        return {}


