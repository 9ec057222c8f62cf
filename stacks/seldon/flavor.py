"""The project's Seldon model deployer flavor: `project_seldon`, with a local and a Kubernetes backend.

Register it with `Client().create_flavor(source="stacks.seldon.flavor.SeldonModelDeployerFlavor",
component_type=StackComponentType.MODEL_DEPLOYER)`; the stack specs in stacks/*.yaml configure it.
"""

from __future__ import annotations

from typing import Any, Dict, Literal, Optional, Tuple, Type

from pydantic import field_validator
from zenml.model_deployers.base_model_deployer import BaseModelDeployerConfig, BaseModelDeployerFlavor

from stacks.flavors.base import ProjectFlavorMixin

FLAVOR_NAME = "project_seldon"


class SeldonModelDeployerConfig(BaseModelDeployerConfig):
    """Where and how models are served.

    backend: `local` runs Seldon microservice daemons on this machine behind a local nginx ingress; `kubernetes`
    applies SeldonDeployments. Rollout defaults apply to specs built with `SeldonModelDeployer.default_spec`.
    """

    backend: Literal["local", "kubernetes"] = "local"
    # local backend
    host: str = "127.0.0.1"
    port_range: Tuple[int, int] = (18000, 18999)
    ingress_port: int = 0  # 0: picked from port_range on first deploy, then kept (the stable URL)
    workers: Optional[int] = None  # gunicorn workers per model; None: one per core
    threads: Optional[int] = None
    # kubernetes backend
    namespace: Optional[str] = None
    image: Optional[str] = None
    ingress_base_url: Optional[str] = None
    kube_context: Optional[str] = None
    service_account: Optional[str] = None
    model_storage_secret: Optional[str] = None
    recording_claim: Optional[str] = None  # PVC the model pods record live traffic to (stacks/kubernetes/live-recording.yaml)
    hpa: Optional[Dict[str, Any]] = None
    pdb: Optional[Dict[str, Any]] = None
    # rollout defaults
    rollout: Literal["replace", "canary", "shadow"] = "replace"
    canary_traffic_percent: int = 10
    replicas: int = 1
    resources: Dict[str, Any] = {}

    @field_validator("port_range")
    @classmethod
    def _port_range(cls, value: Tuple[int, int]) -> Tuple[int, int]:
        low, high = value
        if not 1024 <= low < high <= 65536 or high - low < 3:
            raise ValueError(f"port_range: expected (low, high) with 1024 <= low < high <= 65536, found {value}")
        return value

    @field_validator("canary_traffic_percent")
    @classmethod
    def _percent(cls, value: int) -> int:
        if not 0 < value < 100:
            raise ValueError(f"canary_traffic_percent: expected 1..99, found {value}")
        return value

    @property
    def is_local(self) -> bool:
        return self.backend == "local"


class SeldonModelDeployerFlavor(ProjectFlavorMixin, BaseModelDeployerFlavor):
    """Seldon Core v1 microservices, locally or on Kubernetes, with blue/green (or canary/shadow) rollouts."""

    @property
    def name(self) -> str:
        return FLAVOR_NAME

    @property
    def logo_url(self) -> str:
        return "https://public-flavor-logos.s3.eu-central-1.amazonaws.com/model_deployer/seldon.png"

    @property
    def config_class(self) -> Type[SeldonModelDeployerConfig]:
        return SeldonModelDeployerConfig

    @property
    def implementation_class(self) -> Type[Any]:
        from stacks.seldon.deployer import SeldonModelDeployer

        return SeldonModelDeployer
