"""What the Seldon Core 1.17 operator checks beyond the CRD schema, for the fake API server.

Written from the operator's documented behaviour: its validating webhook refuses SeldonDeployments whose
predictors cannot work together (traffic, shadows, names, graph nodes without a container or model), its
mutating webhook adds a `version` label per predictor, and its reconciler marks a deployment Failed when a graph
node names a model server missing from the operator's `predictor_servers` (our Helm values).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Set

import yaml

from tests.stacks.kubernetes.crd_schema import REPO_ROOT

OPERATOR_VALUES = REPO_ROOT / "stacks" / "kubernetes" / "helm" / "seldon-core-operator-values.yaml"
# model servers the chart registers by default; ours come from the values file
BUILTIN_SERVERS = {"SKLEARN_SERVER", "XGBOOST_SERVER", "MLFLOW_SERVER", "TENSORFLOW_SERVER", "TRITON_SERVER",
                   "HUGGINGFACE_SERVER", "TEMPO_SERVER"}


def configured_servers(values_path: Path = OPERATOR_VALUES) -> Set[str]:
    """Model-server names the operator knows when installed with our values file."""
    values = yaml.safe_load(values_path.read_text()) or {}
    return BUILTIN_SERVERS | set(values.get("predictor_servers") or {})


def _nodes(node: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield node
    for child in node.get("children") or []:
        yield from _nodes(child)


def _containers(predictor: Mapping[str, Any]) -> Dict[str, Mapping[str, Any]]:
    return {c.get("name"): c for spec in predictor.get("componentSpecs") or []
            for c in (spec.get("spec") or {}).get("containers") or []}


def admission_errors(spec: Mapping[str, Any], servers: Set[str]) -> List[str]:
    """Why the validating webhook would deny `spec` (empty: admitted)."""
    errors = []
    if spec.get("protocol", "seldon") not in ("seldon", "tensorflow", "kfserving", "v2"):
        errors.append(f"spec: Invalid value: {spec['protocol']!r}: Invalid protocol")
    if spec.get("transport", "rest") not in ("rest", "grpc"):
        errors.append(f"spec: Invalid value: {spec['transport']!r}: Invalid transport")
    predictors = spec.get("predictors") or []
    if not predictors:
        errors.append("spec: Invalid value: Graph contains no predictors")
    shadows = [p for p in predictors if p.get("shadow")]
    if len(predictors) == 1 and shadows:
        errors.append("spec.predictors[0]: Shadow can not exist as only predictor")
    if len(shadows) > 1:
        errors.append("spec.predictors: Multiple shadows are not allowed")
    names = [p.get("name") for p in predictors]
    errors += [f"spec.predictors: Duplicate predictor name {n!r}" for n in sorted({n for n in names
                                                                                   if names.count(n) > 1})]
    traffic = sum(int(p.get("traffic", 0)) for p in predictors)
    if traffic != 100 and len(predictors) - len(shadows) > 1:
        errors.append(f"spec: Traffic must sum to 100 for multiple predictors (found {traffic})")
    if len(predictors) == 1 and 0 < traffic < 100:
        errors.append("spec: Traffic must be 100 for a single predictor when set")
    for index, predictor in enumerate(predictors):
        containers = _containers(predictor)
        for node in _nodes(predictor.get("graph") or {}):
            where = f"spec.predictors[{index}].graph[{node.get('name')}]"
            implementation = node.get("implementation") or "UNKNOWN_IMPLEMENTATION"
            if implementation == "UNKNOWN_IMPLEMENTATION":
                if node.get("name") not in containers:
                    errors.append(f"{where}: Can't find container for Predictive Unit")
                continue
            if not node.get("modelUri"):
                errors.append(f"{where}: Predictive unit modelUri required when using standalone servers")
            container = containers.get(node.get("name"))
            if (container is None or not container.get("image")) and implementation not in servers:
                errors.append(f"{where}: No entry in predictors map for {implementation}")
    return errors


def reconcile_failure(spec: Mapping[str, Any], servers: Set[str]) -> Optional[str]:
    """The description the reconciler sets with state Failed, or None."""
    for predictor in spec.get("predictors") or []:
        for node in _nodes(predictor.get("graph") or {}):
            implementation = node.get("implementation")
            if implementation and implementation != "UNKNOWN_IMPLEMENTATION" and implementation not in servers:
                return f"Failed to get server config for {implementation}"
    return None


def apply_defaults(spec: Dict[str, Any]) -> None:
    """What the mutating webhook adds that clients see when they read the object back."""
    for predictor in spec.get("predictors") or []:
        predictor.setdefault("labels", {}).setdefault("version", predictor.get("name", ""))
