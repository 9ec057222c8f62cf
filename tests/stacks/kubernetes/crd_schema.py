"""Validate objects against a CustomResourceDefinition's openAPIV3Schema, as a Kubernetes API server does.

The CRD is vendored in reference/ (Seldon Core 1.17.1, Apache-2.0; see reference/seldon-core-v1.17.1/SOURCE.md). A structural schema is turned into
a JSON schema: `nullable` becomes a null type, and in strict mode every object with declared properties (and no
x-kubernetes-preserve-unknown-fields) rejects unknown fields, like `kubectl apply` (fieldValidation=Strict).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Dict, List, Mapping

import jsonschema
import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
SCHEMAS = Path(__file__).resolve().parent / "reference"
SELDON_CRD = SCHEMAS / "seldon-core-v1.17.1" / "seldondeployments.crd.yaml"


def _to_json_schema(node: Any, strict: bool) -> Any:
    if isinstance(node, list):
        return [_to_json_schema(item, strict) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _to_json_schema(value, strict) for key, value in node.items()
           if not key.startswith("x-kubernetes-") and key not in ("description", "nullable")}
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if (strict and "properties" in node and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


@functools.lru_cache(maxsize=4)
def crd_validator(crd_path: str = str(SELDON_CRD), version: str = "v1", strict: bool = True) -> jsonschema.Validator:
    """A validator for `version` of the CRD at `crd_path` (cached: the Seldon CRD is 2 MB of YAML)."""
    with open(crd_path, encoding="utf-8") as handle:
        crd = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    versions = {v["name"]: v for v in crd["spec"]["versions"]}
    schema = _to_json_schema(versions[version]["schema"]["openAPIV3Schema"], strict)
    return jsonschema.Draft7Validator(schema)


def crd_errors(obj: Mapping[str, Any], strict: bool = True) -> List[str]:
    """Every reason the SeldonDeployment CRD rejects `obj`, as `path: message` lines; empty when valid."""
    validator = crd_validator(strict=strict)
    return [f"{'.'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
            for error in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))]


def unknown_fields(obj: Mapping[str, Any]) -> List[str]:
    """Paths of fields the CRD does not declare: what a real API server prunes (fieldValidation=Warn)."""
    found = []
    for error in crd_validator(strict=True).iter_errors(obj):
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            parent = ".".join(str(p) for p in error.absolute_path)
            found += [f"{parent}.{key}" if parent else key
                      for key in sorted(set(error.instance) - set(error.schema.get("properties", {})))]
    return found


def prune(obj: Dict[str, Any], schema: Any = None) -> Dict[str, Any]:
    """Drop fields the CRD does not declare, in place, as the API server does before storing an object."""
    if schema is None:
        schema = crd_validator(strict=True).schema
    if isinstance(obj, dict) and isinstance(schema, dict):
        props = schema.get("properties")
        if props is not None and schema.get("additionalProperties") is False:
            for key in [k for k in obj if k not in props]:
                del obj[key]
        for key, value in obj.items():
            sub = (props or {}).get(key) or (schema.get("additionalProperties")
                                             if isinstance(schema.get("additionalProperties"), dict) else None)
            if sub is not None:
                prune(value, sub)
    elif isinstance(obj, list) and isinstance(schema, dict) and isinstance(schema.get("items"), dict):
        for item in obj:
            prune(item, schema["items"])
    return obj
