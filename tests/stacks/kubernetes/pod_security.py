"""The Pod Security Standards' `restricted` profile, plus the project's own rules, as a check on a pod spec.

Written from the Kubernetes documentation of the profile (pod-security-standards, "Restricted"): the rules that
apply to the fields our pods use. The project adds: read-only root filesystem, no API token where none is needed,
CPU and memory limits on every container.
"""

from __future__ import annotations

from typing import Any, List, Mapping

# volume types the restricted profile allows
ALLOWED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected",
                   "secret"}


def restricted_violations(pod: Mapping[str, Any], needs_api_token: bool = False) -> List[str]:
    """What in `pod` (a core/v1 PodSpec) breaks the restricted profile or the project's rules; empty: nothing."""
    problems = []
    pod_context = pod.get("securityContext") or {}
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(flag):
            problems.append(f"pod: {flag} must not be set")
    for volume in pod.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= ALLOWED_VOLUMES:
            problems.append(f"volume {volume['name']}: type {sorted(kinds)} not allowed")
    if not needs_api_token and pod.get("automountServiceAccountToken") is not False:
        problems.append("pod: automountServiceAccountToken must be false (no Kubernetes API access needed)")
    for container in (pod.get("containers") or []) + (pod.get("initContainers") or []):
        name = f"container {container['name']}"
        context = container.get("securityContext") or {}

        def effective(key: str) -> Any:
            return context[key] if key in context else pod_context.get(key)

        if context.get("privileged"):
            problems.append(f"{name}: privileged")
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation must be false")
        if effective("runAsNonRoot") is not True:
            problems.append(f"{name}: runAsNonRoot must be true")
        if effective("runAsUser") == 0:
            problems.append(f"{name}: runAsUser must not be 0")
        if (effective("seccompProfile") or {}).get("type") not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: seccompProfile must be RuntimeDefault or Localhost")
        capabilities = context.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            problems.append(f"{name}: capabilities must drop ALL")
        if set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}:
            problems.append(f"{name}: may add only NET_BIND_SERVICE")
        if context.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{name}: readOnlyRootFilesystem must be true")
        limits = (container.get("resources") or {}).get("limits") or {}
        problems += [f"{name}: no {resource} limit" for resource in ("cpu", "memory") if resource not in limits]
    return problems
