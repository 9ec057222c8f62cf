"""The shipped manifests (stacks/kubernetes/*.yaml), loaded once for the tests that check them."""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Mapping, Tuple

import yaml

from tests.stacks.kubernetes.crd_schema import REPO_ROOT

MANIFESTS = REPO_ROOT / "stacks" / "kubernetes"
CRD_KINDS = {"PodMonitor": "monitoring.coreos.com/v1", "Gateway": "networking.istio.io/v1beta1"}


def _documents() -> Iterator[Tuple[str, Dict[str, Any]]]:
    for path in sorted(MANIFESTS.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                yield f"{path.name}:{doc['kind']}/{doc['metadata']['name']}", doc


DOCS = dict(_documents())  # "<file>:<kind>/<name>" -> object


def pod(doc: Mapping[str, Any]) -> Dict[str, Any]:
    """The pod spec of a Deployment, StatefulSet, Job or CronJob ({} for other kinds)."""
    spec = doc.get("spec", {})
    return (spec.get("jobTemplate", {}).get("spec", spec)).get("template", {}).get("spec", {})


def containers(doc: Mapping[str, Any]) -> List[Dict[str, Any]]:
    spec = pod(doc)
    return spec.get("containers", []) + spec.get("initContainers", [])
