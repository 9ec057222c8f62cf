"""Which model version is serving and where it came from: one small type for training, the deployer, the serving
model class and the Kubernetes backend (plain Python: it runs in the serving environment too)."""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Mapping

# The model-class parameters that carry the identity (Seldon passes them to the model class as keyword arguments).
PARAMETERS = ("model_name", "model_version", "run_id", "data_fingerprint", "git_commit")


@dataclasses.dataclass(frozen=True)
class ModelIdentity:
    """A registered model version: name and version in the MLflow registry, the model directory it is loaded from
    (a local path or an object-store URI), the MLflow run that produced it, its training data's fingerprint and the
    code commit."""

    name: str
    version: str
    uri: str = ""
    run_id: str = ""
    data_fingerprint: str = ""
    git_commit: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "version", str(self.version))

    def parameters(self) -> Dict[str, str]:
        """The identity as the serving model class's parameters (everything but the URI, which Seldon passes apart)."""
        return {"model_name": self.name, "model_version": self.version, "run_id": self.run_id,
                "data_fingerprint": self.data_fingerprint, "git_commit": self.git_commit}

    @classmethod
    def from_parameters(cls, uri: str, parameters: Mapping[str, Any]) -> "ModelIdentity":
        """The inverse of `parameters()` (missing ones are empty)."""
        return cls(name=str(parameters.get("model_name") or ""), version=str(parameters.get("model_version") or ""),
                   uri=uri, run_id=str(parameters.get("run_id") or ""),
                   data_fingerprint=str(parameters.get("data_fingerprint") or ""),
                   git_commit=str(parameters.get("git_commit") or ""))

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"
