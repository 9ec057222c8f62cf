"""Pick the deployment backend named by the model deployer's config: local daemons or SeldonDeployments.

No ZenML import: the ZenML service (stacks/seldon/service.py) rebuilds a backend from the plain options it stored,
so `zenml model-deployer models ...` works without the stack that made the deployment being active.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping

from stacks.seldon.spec import DeploymentBackend

LOCAL_OPTIONS = ("host", "port_range", "ingress_port", "workers", "threads")
KUBERNETES_OPTIONS = ("namespace", "image", "ingress_base_url", "kube_context", "hpa", "pdb", "service_account",
                      "model_storage_secret", "recording_claim")


def backend_options(config: Any) -> Dict[str, Any]:
    """The options of `config` (a flavor config or a mapping) that its backend takes, as plain JSON-able values."""
    values = dict(config) if isinstance(config, Mapping) else config.model_dump()
    kind = values.get("backend", "local")
    names = LOCAL_OPTIONS if kind == "local" else KUBERNETES_OPTIONS
    options = {k: values[k] for k in names if values.get(k) is not None}
    if "port_range" in options:
        options["port_range"] = list(options["port_range"])
    return {"backend": kind, **options}


def make_backend(config: Any) -> DeploymentBackend:
    """The backend for a model deployer config (or the mapping `backend_options` returned)."""
    options = backend_options(config)
    kind = options.pop("backend")
    if kind == "local":
        from stacks.seldon.local_backend import LocalSeldonBackend

        if "port_range" in options:
            options["port_range"] = tuple(options["port_range"])
        return LocalSeldonBackend(**options)
    if kind == "kubernetes":
        # Imported lazily: the kubernetes client is only needed on the Kubernetes stack.
        from stacks.seldon.kubernetes_backend import KubernetesSeldonBackend

        missing = [k for k in ("namespace", "image", "ingress_base_url") if not options.get(k)]
        if missing:
            raise ValueError(f"model deployer backend 'kubernetes' needs {', '.join(missing)} in its configuration")
        return KubernetesSeldonBackend(**options)
    raise ValueError(f"model deployer backend: expected 'local' or 'kubernetes', found {kind!r}")
