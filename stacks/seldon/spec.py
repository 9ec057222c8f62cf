"""What a Seldon deployment backend is asked to do, and what it reports back.

Plain Python, no ZenML import: the deployer flavor (ZenML) and the backends (local processes, Kubernetes) share
these types, so the deployment step does not care which backend serves the model.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any, Callable, Dict, List, Literal, Optional

from serving.identity import ModelIdentity

RolloutMode = Literal["replace", "canary", "shadow"]
LEGACY_IDENTITY_KEYS = ("model_uri", "model_name", "model_version", "run_id", "data_fingerprint", "git_commit")


@dataclasses.dataclass(frozen=True)
class ModelDeploymentSpec:
    """One model version (`model.uri`: a local path or an object-store URI) to serve behind a named, stable
    endpoint."""

    name: str  # deployment name, stable across redeploys (DNS-1123 label)
    model: ModelIdentity
    replicas: int = 1
    workers: Optional[int] = None  # None: backend picks (e.g. one per core)
    threads: Optional[int] = None
    resources: Dict[str, Any] = dataclasses.field(default_factory=dict)
    rollout: RolloutMode = "replace"
    canary_traffic_percent: int = 10  # share of traffic for the candidate in canary mode
    # what the endpoint records for live monitoring: {"enabled": bool, RecorderSettings fields...}; {}: defaults
    recording: Dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "ModelDeploymentSpec":
        """The inverse of `to_dict`; also reads records written before the identity had its own type."""
        data = dict(data)
        model = data.pop("model", None)
        if model is None:
            flat = {key: data.pop(key, "") for key in LEGACY_IDENTITY_KEYS}
            model = {"name": flat["model_name"], "version": flat["model_version"], "uri": flat["model_uri"],
                     "run_id": flat["run_id"], "data_fingerprint": flat["data_fingerprint"],
                     "git_commit": flat["git_commit"]}
        return cls(model=ModelIdentity(**model), **data)


@dataclasses.dataclass
class DeploymentInfo:
    """The state of one deployment as its backend sees it."""

    name: str
    url: str  # stable prediction URL (…/api/v1.0/predictions)
    state: Literal["active", "pending", "failed", "stopped"]
    model_name: str = ""
    model_version: str = ""
    details: Dict[str, Any] = dataclasses.field(default_factory=dict)


class DeploymentError(RuntimeError):
    """A deployment could not be made; the previously serving model, if any, is still serving."""


@dataclasses.dataclass(frozen=True)
class TrafficSplit:
    """How an A/B test shares a deployment's traffic: a percent to the challenger (random per request, or keyed
    on `sticky_header` so one user stays on one variant), or `shadow`: every request mirrored to the challenger,
    whose answers are discarded."""

    challenger_percent: int = 10
    sticky_header: Optional[str] = None
    shadow: bool = False

    def __post_init__(self) -> None:
        if not self.shadow and not 1 <= self.challenger_percent <= 99:
            raise ValueError(f"split: expected 1..99 percent for the challenger, found {self.challenger_percent}")
        if self.shadow and self.sticky_header:
            raise ValueError("--sticky-header does not apply to a shadow test: the challenger sees every request")

    def describe(self) -> str:
        if self.shadow:
            return "shadow (every request mirrored to the challenger, its answers discarded)"
        keyed = f", sticky on header {self.sticky_header}" if self.sticky_header else ", random per request"
        return f"{100 - self.challenger_percent}/{self.challenger_percent} champion/challenger{keyed}"


class ABTestRunningError(DeploymentError):
    """A deploy was asked while an A/B test holds the deployment."""


class ABTestNotSupported(DeploymentError):
    """This backend cannot run the asked kind of A/B test."""


class DeploymentBackend(abc.ABC):
    """Where models run: local processes, or SeldonDeployments on Kubernetes."""

    @abc.abstractmethod
    def deploy(
        self,
        spec: ModelDeploymentSpec,
        timeout: float = 300.0,
        verify: Optional[Callable[[str], None]] = None,
    ) -> DeploymentInfo:
        """Serve `spec` behind its stable URL; on failure raise DeploymentError and leave the old model serving.

        `verify`, when given, is called with the candidate's own prediction URL once it is healthy and before it
        takes traffic; raising from it aborts the rollout (e.g. endpoint/offline prediction parity failed).
        """

    @abc.abstractmethod
    def status(self, name: str) -> Optional[DeploymentInfo]:
        """The deployment called `name`, or None if there is none."""

    @abc.abstractmethod
    def list(self) -> List[DeploymentInfo]:
        """Every deployment this backend manages."""

    @abc.abstractmethod
    def delete(self, name: str, timeout: float = 60.0) -> None:
        """Stop serving `name` and release everything it holds. Deleting a missing deployment is not an error."""

    @abc.abstractmethod
    def stop(self, name: str, timeout: float = 60.0) -> None:
        """Stop serving `name` but keep its record, so that `start(name)` serves the same model again."""

    @abc.abstractmethod
    def start(self, name: str, timeout: float = 300.0) -> DeploymentInfo:
        """Serve a stopped or crashed deployment again, from its recorded spec."""

    # -- A/B tests: a challenger beside the serving champion, behind the same stable URL ---------------------------
    def start_challenger(self, spec: ModelDeploymentSpec, split: TrafficSplit, timeout: float = 300.0,
                         verify: Optional[Callable[[str], None]] = None) -> DeploymentInfo:
        """Serve `spec` as the challenger of the deployment `spec.name` with `split`, after the same checks as a
        deploy (`verify` on its own URL); the champion keeps serving if anything fails."""
        raise ABTestNotSupported(f"{type(self).__name__} cannot run A/B tests")

    def end_challenger(self, name: str, promote: bool, timeout: float = 300.0) -> DeploymentInfo:
        """End the A/B test on `name`: `promote` makes the challenger the only serving model, else it is removed
        and the champion serves alone. No request is lost either way."""
        raise ABTestNotSupported(f"{type(self).__name__} cannot run A/B tests")

    def challenger(self, name: str) -> Optional[Dict[str, Any]]:
        """The running A/B test on `name` ({'spec': challenger spec dict, 'split': {...}, 'started_at': iso}), or
        None."""
        return None

    def variant_traffic(self, name: str, since: float) -> Dict[str, Dict[str, Any]]:
        """Per variant since `since` (epoch s): {'requests', 'errors', 'p99_ms'}; {} where the backend cannot see
        it."""
        return {}
