"""Scheduled live monitoring on the kubernetes stack: what the live monitoring pipeline's pods need from ZenML's
kubernetes orchestrator when it runs as a ZenML `Schedule(cron_expression=...)`, which that orchestrator turns into a
CronJob (zenml/integrations/kubernetes/orchestrators/kubernetes_orchestrator.py, `submit_pipeline`).

Every scheduled run must read the endpoint's recorded windows: the recording claim (stacks/kubernetes/
live-recording.yaml, named by the model deployer's `recording_claim`) is mounted read-only at the path the model pods
write to, in the CronJob's orchestrator pod and in the step pods; the checkpoint goes to the artifact store
(pipelines/live_monitoring.py), so nothing in the monitoring pods writes to the claim. Two runs never overlap
(concurrencyPolicy Forbid): both would read the same windows.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Optional

from stacks.seldon.seldon_deployment import LIVE_MOUNT, LIVE_VOLUME

ORCHESTRATOR_SETTINGS_KEY = "orchestrator.kubernetes"
CONCURRENCY_POLICY = "Forbid"
# ZenML's default podFailurePolicy (same meaning: a disrupted pod is not a retry, a failed main container is) leaves
# out `onPodConditions` in its exit-code rules and `status` in its condition rule, which the Kubernetes 1.27 schema
# requires: its CronJob fails strict validation there (tests/stacks/kubernetes/test_live_schedule.py). Spelled out:
POD_FAILURE_POLICY = {"rules": [
    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
    {"action": "Count", "onExitCodes": {"containerName": "main", "operator": "NotIn", "values": [0]},
     "onPodConditions": []},
]}
# minute hour day-of-month month day-of-week, as a CronJob's `schedule` takes it (or a macro such as @hourly)
_CRON_FIELD = r"[0-9*/,\-A-Za-z?]+"
_CRON = re.compile(rf"^\s*({_CRON_FIELD}\s+){{4}}{_CRON_FIELD}\s*$|^\s*@(yearly|annually|monthly|weekly|daily|hourly)\s*$")


class LiveScheduleError(RuntimeError):
    """Scheduled live monitoring cannot be set up on this stack or with these settings."""


def check_cron(expression: str) -> str:
    """`expression` if it has the five fields of a CronJob schedule (or is a macro like @hourly), else an error."""
    if not _CRON.match(expression or ""):
        raise LiveScheduleError(f"--schedule {expression!r}: expected a cron expression of five fields, minute hour "
                                "day-of-month month day-of-week (e.g. \"*/15 * * * *\"), or @hourly/@daily")
    return expression.strip()


def read_only_recording(pod_settings: Any, claim: str) -> Any:
    """`pod_settings` (KubernetesPodSettings or None) plus the recording claim mounted read-only at LIVE_MOUNT; what
    the stack already sets (env_from with the S3 credentials, resources...) is kept, not replaced."""
    from zenml.integrations.kubernetes.pod_settings import KubernetesPodSettings

    base = pod_settings.model_dump() if pod_settings is not None else {}
    volumes = [v for v in base.get("volumes", []) if v.get("name") != LIVE_VOLUME]
    mounts = [m for m in base.get("volume_mounts", []) if m.get("name") != LIVE_VOLUME]
    volumes.append({"name": LIVE_VOLUME, "persistentVolumeClaim": {"claimName": claim, "readOnly": True}})
    mounts.append({"name": LIVE_VOLUME, "mountPath": LIVE_MOUNT, "readOnly": True})
    return KubernetesPodSettings(**{**base, "volumes": volumes, "volume_mounts": mounts})


def live_schedule_settings(orchestrator_config: Any, claim: str) -> Any:
    """KubernetesOrchestratorSettings for the scheduled live monitoring pipeline, from the stack's orchestrator
    config (a KubernetesOrchestratorConfig): its pod settings with the claim mounted read-only, no overlapping runs,
    a pod failure policy every supported Kubernetes version accepts.

    Pipeline-level settings replace a component's `pod_settings` as a whole, hence the merge with the config's."""
    from zenml.integrations.kubernetes.flavors.kubernetes_orchestrator_flavor import KubernetesOrchestratorSettings

    return KubernetesOrchestratorSettings(
        pod_settings=read_only_recording(getattr(orchestrator_config, "pod_settings", None), claim),
        orchestrator_pod_settings=read_only_recording(getattr(orchestrator_config, "orchestrator_pod_settings", None),
                                                      claim),
        concurrency_policy=CONCURRENCY_POLICY,
        pod_failure_policy=POD_FAILURE_POLICY,
    )


def kubernetes_orchestrator() -> Any:
    """The active stack's orchestrator if it is ZenML's kubernetes orchestrator (schedules become CronJobs), else
    an error pointing to the local way of scheduling."""
    from zenml.client import Client

    orchestrator = Client().active_stack.orchestrator
    if orchestrator.flavor != "kubernetes":
        raise LiveScheduleError(f"--schedule makes a CronJob on the kubernetes stack; the active stack's orchestrator "
                                f"is '{orchestrator.flavor}': schedule live monitoring here with "
                                "`python run.py monitor --live --every 15m`")
    return orchestrator


def recording_claim_of(source: Dict[str, Any], deployment: str) -> str:
    """The claim a kubernetes deployment records to (from the live source or the deployment's details), else an
    error saying what to set."""
    claim: Optional[str] = (source or {}).get("recording_claim")
    if not claim:
        raise LiveScheduleError(f"deployment '{deployment}' records no traffic on this cluster: set the model "
                                "deployer's recording_claim (stacks/kubernetes.yaml), apply stacks/kubernetes/"
                                "live-recording.yaml and deploy again")
    return claim
