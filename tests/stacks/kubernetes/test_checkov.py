"""checkov (a maintained IaC scanner, run from its own pinned environment) on the Kubernetes manifests, every kind of
generated SeldonDeployment and both Dockerfiles: every finding is fixed or justified in tests/tools/checkov-skips.yaml.
"""

from __future__ import annotations

import pytest
import yaml

from tests.stacks.kubernetes.manifests import DOCS
from tests.stacks.kubernetes.variants import VARIANTS
from tests.tools import checkov_scan

# the negative control, scanned in the same run: what a pod and an image look like without any hardening
CONTROL_POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "unhardened", "namespace": "mlops"},
               "spec": {"containers": [{"name": "app", "image": "registry.example.com/app:1.0"}]}}
CONTROL_DOCKERFILE = "FROM python:3.11-slim\nCOPY app.py /app.py\nCMD [\"python\", \"/app.py\"]\n"


@pytest.fixture(scope="module")
def findings(tmp_path_factory):
    scan_dir = tmp_path_factory.mktemp("checkov-scan")
    checkov_scan.prepare(scan_dir, VARIANTS)
    (scan_dir / "control").mkdir()
    (scan_dir / "control" / "pod.yaml").write_text(yaml.safe_dump(CONTROL_POD))
    (scan_dir / "control" / "control.Dockerfile").write_text(CONTROL_DOCKERFILE)
    return checkov_scan.run_checkov(scan_dir)


def _listing(found):
    return "\n".join(f"{f.check_id} {f.check_name!r} on {f.resource} ({f.file})" for f in found)


def test_no_finding_is_left_without_a_justification(findings):
    ours = [f for f in findings if f.group != "control"]
    new = checkov_scan.unjustified(ours, checkov_scan.load_skips())
    assert not new, f"fix these or justify them in {checkov_scan.SKIPS.name}:\n{_listing(new)}"


def test_the_skip_file_holds_no_entry_that_nothing_needs(findings):
    assert checkov_scan.unused_skips(findings, checkov_scan.load_skips()) == []


def test_everything_was_scanned(findings):
    resources = {f.resource for f in findings}
    files = {f.file for f in findings}
    workloads = {f"{doc['kind']}.mlops.{doc['metadata']['name']}" for doc in DOCS.values()
                 if doc["kind"] in ("Deployment", "StatefulSet", "Job")}
    assert workloads <= resources
    # the files with workloads or RBAC (checkov has no per-object checks for the others: namespace, policies, CRs)
    assert {f"manifests/{key.split(':')[0]}" for key, doc in DOCS.items()
            if doc["kind"] in ("Deployment", "StatefulSet", "Job", "Role")} <= files
    for label, sdep in VARIANTS.items():  # every predictor of every variant, as the operator's Deployment
        for predictor in sdep["spec"]["predictors"]:
            assert f"Deployment.mlops.{label}-{predictor['name']}-0" in resources
    assert {"dockerfiles/serving.Dockerfile", "dockerfiles/mlflow-server.Dockerfile"} <= files
    passed, failed = zip(*(checkov_scan.counts(findings)[group] for group in ("manifests", "generated", "dockerfiles")))
    assert min(passed) > 100  # the kubernetes and dockerfile checks really ran


def test_the_scan_flags_what_an_unhardened_pod_and_image_lack(findings):
    """Negative control: the same run and skip file reject a pod and a Dockerfile written without hardening."""
    control = checkov_scan.unjustified([f for f in findings if f.group == "control"], checkov_scan.load_skips())
    flagged = {f.check_id for f in control}
    # read-only root, capabilities, seccomp, token, privilege escalation, CPU limit; HEALTHCHECK, USER (no CKV2_K8S_6:
    # the default-deny NetworkPolicy selects every pod of the namespace, this one too)
    assert {"CKV_K8S_22", "CKV_K8S_37", "CKV_K8S_31", "CKV_K8S_38", "CKV_K8S_20", "CKV_K8S_11",
            "CKV_DOCKER_2", "CKV_DOCKER_3"} <= flagged, _listing(control)


@pytest.mark.parametrize("text, problem", [
    ("CKV_K8S_1:\n  resources: [x]\n", "one-line `why`"),
    ("CKV_K8S_1:\n  why: because\n", "the `resources`"),
    ("CKV_K8S_1:\n  why: |\n    two\n    lines\n  resources: [x]\n", "one-line `why`"),
])
def test_a_skip_entry_needs_a_one_line_reason_and_its_resources(tmp_path, text, problem):
    path = tmp_path / "skips.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=problem.replace("`", "`")):
        checkov_scan.load_skips(path)
