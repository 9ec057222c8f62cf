"""Scan the Kubernetes manifests, the generated SeldonDeployments and both Dockerfiles with checkov.

checkov runs in its own pinned environment (tests/tools/checkov-requirements.txt, see tool_env.py), offline. It does
not know the SeldonDeployment kind, so each predictor is also written as the Deployment the Seldon operator makes
from it (our pod spec and labels; the operator's own executor and storage-initializer containers are not ours to
scan). Every finding must be listed in tests/tools/checkov-skips.yaml with a one-line reason.

Figures for docs/reliability.md (counts per group, at this tree or an exported older one):
    .venv/bin/python -m tests.tools.checkov_scan [--tree DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

import yaml

from tests.tools.tool_env import PROJECT_ROOT, TOOLS_DIR, ensure_tool_env

SKIPS = TOOLS_DIR / "checkov-skips.yaml"
DOCKERFILES = {"serving.Dockerfile": Path("serving/Dockerfile"),
               "mlflow-server.Dockerfile": Path("stacks/kubernetes/images/mlflow-server.Dockerfile")}
GROUPS = ("manifests", "generated", "dockerfiles", "control")


@dataclasses.dataclass(frozen=True)
class Finding:
    group: str  # manifests, generated, dockerfiles or control (the negative control a test adds)
    file: str
    resource: str
    check_id: str
    check_name: str
    passed: bool


def operator_deployments(label: str, sdep: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """The Deployment the Seldon operator creates for each predictor of `sdep`, as far as our spec decides it."""
    namespace = sdep["metadata"]["namespace"]
    result = []
    for predictor in sdep["spec"]["predictors"]:
        for index, component in enumerate(predictor["componentSpecs"]):
            name = f"{label}-{predictor['name']}-{index}"
            labels = {**(component.get("metadata") or {}).get("labels", {}), "seldon-app": name,
                      "seldon-deployment-id": label, "app.kubernetes.io/managed-by": "seldon-core"}
            result.append({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "namespace": namespace, "labels": labels},
                "spec": {"replicas": component.get("replicas", (component.get("hpaSpec") or {}).get("minReplicas", 1)),
                         "selector": {"matchLabels": {"seldon-app": name}},
                         "template": {"metadata": {"labels": labels}, "spec": component["spec"]}},
            })
    return result


def prepare(scan_dir: Path, variants: Mapping[str, Mapping[str, Any]], tree: Path = PROJECT_ROOT) -> None:
    """Lay out what to scan under `scan_dir`: one folder per group."""
    manifests, generated, images = (scan_dir / name for name in ("manifests", "generated", "dockerfiles"))
    for folder in (manifests, generated, images):
        folder.mkdir(parents=True, exist_ok=True)
    for path in sorted((tree / "stacks" / "kubernetes").glob("*.yaml")):
        shutil.copyfile(path, manifests / path.name)
    for name, source in DOCKERFILES.items():
        shutil.copyfile(tree / source, images / name)
    for label, sdep in variants.items():
        docs = [dict(sdep, metadata=dict(sdep["metadata"], name=label))] + operator_deployments(label, sdep)
        (generated / f"{label}.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))


def run_checkov(scan_dir: Path, timeout: float = 600.0) -> List[Finding]:
    """Every check result of checkov on `scan_dir` (kubernetes and dockerfile frameworks), offline."""
    checkov = ensure_tool_env("checkov") / "checkov"
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "LOG_LEVEL": "WARNING"}  # no calls to the vendor's platform
    proc = subprocess.run([str(checkov), "--directory", str(scan_dir), "--framework", "kubernetes", "dockerfile",
                           "--skip-download", "--compact", "--output", "json"],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=scan_dir)
    if proc.returncode not in (0, 1):  # 1: some check failed
        raise RuntimeError(f"checkov exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    reports = json.loads(proc.stdout)
    findings = []
    for report in reports if isinstance(reports, list) else [reports]:
        for passed, key in ((True, "passed_checks"), (False, "failed_checks")):
            for result in report["results"][key]:
                file = result["file_path"].lstrip("/")
                findings.append(Finding(file.split("/", 1)[0], file, result["resource"], result["check_id"],
                                        result["check_name"], passed))
    return findings


def load_skips(path: Path = SKIPS) -> Dict[str, Dict[str, Any]]:
    """check id -> {why: one line, resources: [glob patterns of the resources it may fail on]}."""
    skips = yaml.safe_load(path.read_text()) or {}
    for check_id, entry in skips.items():
        why = str((entry or {}).get("why", "")).strip()
        if not why or "\n" in why or not entry.get("resources"):
            raise ValueError(f"{path.name}: {check_id} needs a one-line `why` and the `resources` it applies to")
    return skips


def _skip_for(finding: Finding, skips: Mapping[str, Mapping[str, Any]]) -> Optional[str]:
    entry = skips.get(finding.check_id)
    if entry and any(fnmatch.fnmatchcase(finding.resource, pattern) for pattern in entry["resources"]):
        return entry["why"]
    return None


def unjustified(findings: Iterable[Finding], skips: Mapping[str, Mapping[str, Any]]) -> List[Finding]:
    """Failed checks that no entry of the skip file covers."""
    return [f for f in findings if not f.passed and _skip_for(f, skips) is None]


def unused_skips(findings: Iterable[Finding], skips: Mapping[str, Mapping[str, Any]]) -> List[Tuple[str, str]]:
    """(check id, resource pattern) of skip entries that no failed check needs any more."""
    failed = [f for f in findings if not f.passed and f.group != "control"]
    return [(check_id, pattern) for check_id, entry in skips.items() for pattern in entry["resources"]
            if not any(f.check_id == check_id and fnmatch.fnmatchcase(f.resource, pattern) for f in failed)]


def counts(findings: Iterable[Finding]) -> Dict[str, Tuple[int, int]]:
    """group -> (passed, failed)."""
    result: Dict[str, List[int]] = {}
    for finding in findings:
        result.setdefault(finding.group, [0, 0])[0 if finding.passed else 1] += 1
    return {group: (passed, failed) for group, (passed, failed) in result.items()}


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, default=PROJECT_ROOT, help="repository tree to scan (default: this one)")
    parser.add_argument("--no-generated", action="store_true", help="skip the generated SeldonDeployments")
    args = parser.parse_args(argv)
    variants = {}
    if not args.no_generated:
        from tests.stacks.kubernetes.variants import VARIANTS

        variants = VARIANTS
    with tempfile.TemporaryDirectory(prefix="checkov-scan-") as tmp:
        prepare(Path(tmp), variants, args.tree)
        findings = run_checkov(Path(tmp))
    skips = load_skips()
    for group, (passed, failed) in sorted(counts(findings).items()):
        justified = sum(1 for f in findings if f.group == group and not f.passed and _skip_for(f, skips))
        print(f"{group:12s} passed {passed:4d}  failed {failed:3d}  (justified in the skip file: {justified})")
    for finding in sorted({(f.check_id, f.resource, f.file) for f in findings if not f.passed}):
        print("  FAILED", *finding)


if __name__ == "__main__":
    main()
