"""Sizing of model pods: resource requests and limits, autoscaling, disruption budgets, and scaling to zero.

Plain dictionaries in the shapes of the SeldonDeployment CRD (machinelearning.seldon.io/v1), validated early with
messages that name the setting, the expected value and the value found.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any, Dict, Mapping, Optional

STOPPED_ANNOTATION = "mlops.zenml.io/stopped-scale"  # where `scaled_to_zero` keeps what `scaled_back` restores

DEFAULT_RESOURCES = {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
_QUANTITY = re.compile(r"^[+]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[KMGTPE]i|[numkMGTPE])?$")
_SUFFIXES = {"": 1.0, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15,
             "E": 1e18, "Ki": 2.0 ** 10, "Mi": 2.0 ** 20, "Gi": 2.0 ** 30, "Ti": 2.0 ** 40, "Pi": 2.0 ** 50,
             "Ei": 2.0 ** 60}


def quantity(text: str) -> float:
    """The value of a Kubernetes quantity ('500m' -> 0.5, '1Gi' -> 1073741824.0); ValueError if malformed."""
    match = _QUANTITY.match(str(text))
    if not match:
        raise ValueError(f"expected a Kubernetes quantity like '500m' or '1Gi', found {text!r}")
    number, suffix = float(match.group(1)), match.group(3) or ""
    if suffix[:1] in "eE" and len(suffix) > 1:
        return number * 10 ** int(suffix[1:])
    return number * _SUFFIXES[suffix]


def resource_requirements(resources: Mapping[str, Any]) -> Dict[str, Dict[str, str]]:
    """Container resources from `{requests, limits}` or a flat `{cpu, memory}` (= requests).

    A resource the caller sizes anywhere (request or limit) is theirs alone; the defaults only fill resources
    they left out, so a default limit never ends up below a request they raised.
    """
    unknown = set(resources) - {"requests", "limits", "cpu", "memory"}
    if unknown:
        raise ValueError(f"resources: unknown keys {sorted(unknown)}; expected requests, limits, cpu, memory")
    given: Dict[str, Dict[str, str]] = {"requests": {}, "limits": {}}
    flat = {k: resources[k] for k in ("cpu", "memory") if k in resources}
    for section, values in (("requests", flat), ("requests", resources.get("requests") or {}),
                            ("limits", resources.get("limits") or {})):
        for key, value in values.items():
            try:
                quantity(str(value))
            except ValueError as exc:
                raise ValueError(f"resources.{section}.{key}: {exc}") from None
            given[section][key] = str(value)
    sized = set(given["requests"]) | set(given["limits"])
    result = {section: {k: v for k, v in DEFAULT_RESOURCES[section].items() if k not in sized}
              for section in ("requests", "limits")}
    for section in result:
        result[section].update(given[section])
    for key in set(result["requests"]) & set(result["limits"]):
        if quantity(result["limits"][key]) < quantity(result["requests"][key]):
            raise ValueError(f"resources.limits.{key}: {result['limits'][key]} is below the request "
                             f"{result['requests'][key]}; Kubernetes refuses such a pod")
    return {section: values for section, values in result.items() if values}


def hpa_spec(hpa: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
    """Seldon's componentSpecs[].hpaSpec from {min_replicas, max_replicas, target_cpu_utilization}."""
    if not hpa:
        return None
    unknown = set(hpa) - {"min_replicas", "max_replicas", "target_cpu_utilization"}
    if unknown:
        raise ValueError(f"hpa: unknown keys {sorted(unknown)}; expected min_replicas, max_replicas, "
                         "target_cpu_utilization")
    low, high = int(hpa.get("min_replicas", 1)), int(hpa.get("max_replicas", 0))
    cpu = int(hpa.get("target_cpu_utilization", 70))
    if not 1 <= low <= high:
        raise ValueError(f"hpa: expected 1 <= min_replicas <= max_replicas, found min={low}, max={high}")
    if not 1 <= cpu <= 1000:
        raise ValueError(f"hpa.target_cpu_utilization: expected a percentage in 1..1000, found {cpu}")
    # Seldon 1.17 still writes autoscaling/v2beta1-shaped metrics (targetAverageUtilization).
    return {"minReplicas": low, "maxReplicas": high,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "targetAverageUtilization": cpu}}]}


def pdb_spec(pdb: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
    """Seldon's componentSpecs[].pdbSpec from exactly one of {min_available, max_unavailable}."""
    if not pdb:
        return None
    keys = set(pdb)
    if keys - {"min_available", "max_unavailable"} or len(keys) != 1:
        raise ValueError(f"pdb: expected exactly one of min_available, max_unavailable, found {sorted(keys)}")
    (key, value), = pdb.items()
    if not (isinstance(value, int) and value >= 0) and not re.match(r"^\d{1,3}%$", str(value)):
        raise ValueError(f"pdb.{key}: expected a non-negative integer or a percentage like '50%', found {value!r}")
    return {"minAvailable" if key == "min_available" else "maxUnavailable": value}


def scaled_to_zero(sdep: Mapping[str, Any]) -> Dict[str, Any]:
    """`sdep` with every component at 0 replicas and no HPA; the previous sizing kept in an annotation."""
    result = copy.deepcopy(dict(sdep))
    annotations = result.setdefault("metadata", {}).setdefault("annotations", {})
    if STOPPED_ANNOTATION in annotations:
        return result  # already stopped: keep the sizing recorded the first time
    saved = {}
    for predictor in result.get("spec", {}).get("predictors", []):
        saved[predictor["name"]] = [{k: c[k] for k in ("replicas", "hpaSpec") if k in c}
                                    for c in predictor.get("componentSpecs", [])]
        for component in predictor.get("componentSpecs", []):
            component.pop("hpaSpec", None)  # an HPA would scale the pods straight back up
            component["replicas"] = 0
    annotations[STOPPED_ANNOTATION] = json.dumps(saved, sort_keys=True)
    return result


def scaled_back(sdep: Mapping[str, Any]) -> Dict[str, Any]:
    """Undo `scaled_to_zero`: the sizing recorded in the annotation, which is removed."""
    result = copy.deepcopy(dict(sdep))
    annotations = result.get("metadata", {}).get("annotations") or {}
    saved = json.loads(annotations.pop(STOPPED_ANNOTATION, "{}"))
    for predictor in result.get("spec", {}).get("predictors", []):
        for component, sizing in zip(predictor.get("componentSpecs", []), saved.get(predictor["name"], [])):
            component.pop("replicas", None)
            component.update(sizing)
    return result


def is_stopped(sdep: Mapping[str, Any]) -> bool:
    return STOPPED_ANNOTATION in ((sdep.get("metadata") or {}).get("annotations") or {})
