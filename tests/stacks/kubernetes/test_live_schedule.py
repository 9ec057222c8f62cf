"""Scheduled live monitoring on the kubernetes stack: the CronJob ZenML's kubernetes orchestrator would create for the
project's settings, built through ZenML's own code (KubernetesOrchestrator.get_settings and _prepare_job_manifest,
then build_cron_job_manifest as in submit_pipeline; the step pods as its entrypoint builds them), validated like the
other manifests. No cluster: the orchestrator's manifest-building path makes no API call when the stack names a
service account."""

from __future__ import annotations

import datetime
import types
import uuid

import kubernetes_validate
import pytest
import yaml
from kubernetes.client import ApiClient

from stacks.live_schedule import LiveScheduleError, check_cron, live_schedule_settings, read_only_recording
from stacks.seldon import seldon_deployment as sd
from tests.stacks.kubernetes.conftest import KUBERNETES_VERSIONS, NAMESPACE
from tests.stacks.kubernetes.crd_schema import REPO_ROOT
from tests.stacks.kubernetes.manifests import DOCS

CLAIM = DOCS["live-recording.yaml:PersistentVolumeClaim/mlops-live-recording"]["metadata"]["name"]
IMAGE = "registry.example.com/mlops/zenml-pipelines:0.1.0"
CRON = "*/15 * * * *"


def _stack_orchestrator_config():
    """The kubernetes stack's orchestrator configuration as stacks/kubernetes.yaml writes it."""
    from zenml.integrations.kubernetes.flavors.kubernetes_orchestrator_flavor import KubernetesOrchestratorConfig

    spec = yaml.safe_load((REPO_ROOT / "stacks" / "kubernetes.yaml").read_text())
    configuration = dict(spec["components"]["orchestrator"]["configuration"])
    configuration.update(kubernetes_context=spec["settings"]["kube_context"],
                         kubernetes_namespace=spec["settings"]["namespace"])
    return KubernetesOrchestratorConfig(**configuration)


@pytest.fixture(scope="module")
def orchestrator():
    from zenml.enums import StackComponentType
    from zenml.integrations.kubernetes.orchestrators.kubernetes_orchestrator import KubernetesOrchestrator

    now = datetime.datetime.now()
    return KubernetesOrchestrator(name="k8s-orchestrator", id=uuid.uuid4(), config=_stack_orchestrator_config(),
                                  flavor="kubernetes", type=StackComponentType.ORCHESTRATOR, user=None,
                                  created=now, updated=now)


@pytest.fixture(scope="module")
def run_settings(orchestrator):
    """The orchestrator's settings for a run of the scheduled pipeline, merged by ZenML as for a compiled snapshot
    (pipeline settings arrive as the fields that were set)."""
    from zenml.config.base_settings import BaseSettings

    ours = live_schedule_settings(orchestrator.config, CLAIM)
    stored = BaseSettings.model_validate(ours.model_dump(exclude_unset=True))
    snapshot = types.SimpleNamespace(pipeline_configuration=types.SimpleNamespace(
        settings={"orchestrator.kubernetes": stored}))
    return orchestrator.get_settings(snapshot)


@pytest.fixture(scope="module")
def cron_job(orchestrator, run_settings):
    """The CronJob as KubernetesOrchestrator.submit_pipeline builds it for a scheduled snapshot, as sent (JSON)."""
    from zenml.integrations.kubernetes.manifest_utils import build_cron_job_manifest, job_template_manifest_from_job

    job = orchestrator._prepare_job_manifest(
        name="monitoring-pipeline-live", command=["python", "-m", "zenml.entrypoints.entrypoint"], args=["--run"],
        image=IMAGE, environment={"ZENML_STORE_URL": "https://zenml.example.com"},
        labels={"project_id": "p1", "pipeline": "monitoring_pipeline"}, annotations={}, settings=run_settings,
        pod_settings=run_settings.orchestrator_pod_settings, backoff_limit=run_settings.orchestrator_job_backoff_limit)
    manifest = build_cron_job_manifest(
        cron_expression=CRON, job_template=job_template_manifest_from_job(job),
        successful_jobs_history_limit=run_settings.successful_jobs_history_limit,
        failed_jobs_history_limit=run_settings.failed_jobs_history_limit,
        concurrency_policy=run_settings.concurrency_policy,
        starting_deadline_seconds=run_settings.starting_deadline_seconds)
    body = ApiClient().sanitize_for_serialization(manifest)
    body["metadata"]["namespace"] = NAMESPACE  # create_namespaced_cron_job puts it in the URL
    return body


@pytest.fixture(scope="module")
def step_job(run_settings):
    """A step's Job as the orchestrator's entrypoint builds it (kubernetes_orchestrator_entrypoint.py)."""
    from zenml.integrations.kubernetes import kube_utils
    from zenml.integrations.kubernetes.manifest_utils import (build_job_manifest, build_pod_manifest,
                                                              pod_template_manifest_from_pod)

    pod_settings = kube_utils.apply_default_resource_requests(memory="400Mi", pod_settings=run_settings.pod_settings)
    pod = build_pod_manifest(pod_name="select-live-windows", image_name=IMAGE, command=["python"], args=["-m", "x"],
                             privileged=run_settings.privileged, pod_settings=pod_settings,
                             service_account_name=run_settings.step_pod_service_account_name)
    job = build_job_manifest(job_name="abc-select-live-windows-monitoring-pipeline",
                             pod_template=pod_template_manifest_from_pod(pod), backoff_limit=run_settings.backoff_limit_margin,
                             ttl_seconds_after_finished=run_settings.ttl_seconds_after_finished,
                             active_deadline_seconds=run_settings.active_deadline_seconds,
                             pod_failure_policy=run_settings.pod_failure_policy, labels={"pipeline": "monitoring"})
    body = ApiClient().sanitize_for_serialization(job)
    # create_namespaced_job's URL names the kind and the namespace; the body ZenML builds leaves them out
    body.update(apiVersion=body.get("apiVersion", "batch/v1"), kind=body.get("kind", "Job"))
    body["metadata"]["namespace"] = NAMESPACE
    return body


@pytest.fixture(scope="module")
def step_pod(step_job):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "step", "namespace": NAMESPACE},
            "spec": step_job["spec"]["template"]["spec"]}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_cron_job_and_its_step_jobs_validate_strictly(cron_job, step_job, step_pod, version):
    for body in (cron_job, step_job, step_pod):
        kubernetes_validate.validate(body, version, strict=True)


def test_zenmls_default_failure_policy_is_what_1_27_refuses(orchestrator, cron_job):
    """Negative control, and why the settings spell the policy out: ZenML's own default breaks the 1.27 schema."""
    import copy

    default = copy.deepcopy(cron_job)
    default["spec"]["jobTemplate"]["spec"]["podFailurePolicy"] = {"rules": [
        {"action": "Count", "onExitCodes": {"containerName": "main", "operator": "NotIn", "values": [0]}}]}
    with pytest.raises(kubernetes_validate.ValidationError, match="onPodConditions"):
        kubernetes_validate.validate(default, "1.27", strict=True)


def test_the_cron_job_runs_on_the_schedule_one_run_at_a_time(cron_job):
    assert (cron_job["kind"], cron_job["apiVersion"]) == ("CronJob", "batch/v1")
    assert cron_job["spec"]["schedule"] == CRON
    assert cron_job["spec"]["concurrencyPolicy"] == "Forbid"  # two runs would read the same windows


def _mounts(pod_spec):
    volumes = {v["name"]: v for v in pod_spec["volumes"]}
    (container,) = pod_spec["containers"]
    return volumes, {m["mountPath"]: m for m in container["volumeMounts"]}, container


@pytest.mark.parametrize("which", ["cron job", "step pod"])
def test_the_recording_claim_is_mounted_read_only_where_the_model_pods_write(cron_job, step_pod, which):
    pod_spec = cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"] if which == "cron job" else step_pod["spec"]
    volumes, mounts, _ = _mounts(pod_spec)
    assert volumes[sd.LIVE_VOLUME]["persistentVolumeClaim"] == {"claimName": CLAIM, "readOnly": True}
    assert mounts[sd.LIVE_MOUNT] == {"name": sd.LIVE_VOLUME, "mountPath": sd.LIVE_MOUNT, "readOnly": True}
    assert sd.live_dir("credit").startswith(sd.LIVE_MOUNT + "/")  # the directory the deployment's status names


def test_the_stacks_own_pod_settings_are_kept(step_pod, cron_job):
    """Pipeline settings replace the component's pod_settings as a whole: the S3 credentials must survive."""
    _, _, container = _mounts(step_pod["spec"])
    assert {"secretRef": {"name": "mlops-pipeline-s3"}} in container["envFrom"]
    assert step_pod["spec"]["serviceAccountName"] == "mlops-pipeline"
    assert cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["serviceAccountName"] == "mlops-pipeline"


def test_mounting_twice_keeps_one_volume():
    once = read_only_recording(None, CLAIM)
    twice = read_only_recording(once, CLAIM)
    assert [v["name"] for v in twice.volumes] == [sd.LIVE_VOLUME] and len(twice.volume_mounts) == 1


@pytest.mark.parametrize("expression", ["*/15 * * * *", "0 6 * * 1-5", "@hourly", " 5 4 * * sun "])
def test_cron_expressions_a_cron_job_takes(expression):
    assert check_cron(expression) == expression.strip()


@pytest.mark.parametrize("expression", ["15m", "* * * *", "every quarter hour", ""])
def test_other_schedules_are_refused_naming_the_format(expression):
    with pytest.raises(LiveScheduleError, match="expected a cron expression of five fields"):
        check_cron(expression)


def test_the_stack_names_the_shipped_claim_and_the_runbook_applies_it():
    claim = DOCS["live-recording.yaml:PersistentVolumeClaim/mlops-live-recording"]
    spec = yaml.safe_load((REPO_ROOT / "stacks" / "kubernetes.yaml").read_text())
    assert spec["components"]["model_deployer"]["configuration"]["recording_claim"] == claim["metadata"]["name"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]  # every replica and the monitoring pods, any node
    assert "kubectl apply -f stacks/kubernetes/live-recording.yaml" in \
        (REPO_ROOT / "docs" / "runbook-kubernetes.md").read_text()
