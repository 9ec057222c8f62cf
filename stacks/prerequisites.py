"""Checks a stack's `requires:` list before the stack becomes active, so a stack that cannot work here fails at
`stack use` or at run start with a message naming what is missing, not deep inside a step.

Requirement forms (in stacks/<name>.yaml):
  service:<name>                  a local service of this stack runs (`stack up` starts it)
  secret:<name>[:<key>,<key>...]  a ZenML secret exists with these keys (default: username,password)
  kube_context:<context>          the kubeconfig has this context and its API server accepts connections
  docker                          a Docker engine answers (the image builder needs one)
  reachable:<url>                 something accepts TCP connections at the URL's host and port
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Callable, Dict, List
from urllib.parse import urlparse

from stacks.spec import StackSpec, StackSpecError


class StackNotReady(StackSpecError):
    """The stack's prerequisites are not met on this machine."""


def _tcp(host: str, port: int, timeout: float = 2.0) -> str:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return ""
    except OSError as exc:
        return f"{host}:{port} does not accept connections ({exc.strerror or exc})"


def _service(spec: StackSpec, name: str) -> str:
    from stacks import services

    if name not in spec.services:
        return f"requirement 'service:{name}': '{name}' is not in the stack's `services`"
    state = services.status(spec)[name]
    if state.startswith("running"):
        return ""
    return f"service '{name}' is {state}: start it with `python run.py stack up {spec.name}`"


def _secret(spec: StackSpec, arg: str) -> str:
    from stacks.services.credentials import missing_keys

    name, _, keys = arg.partition(":")
    wanted = [k for k in keys.split(",") if k] or ["username", "password"]
    missing = missing_keys(name, wanted)
    if not missing:
        return ""
    how = " ".join(f"--{k}=..." for k in missing)
    hint = f"`python run.py stack up {spec.name}` creates it" if spec.services else f"`zenml secret create {name} {how}`"
    return f"ZenML secret '{name}' lacks {', '.join(missing)}: {hint}"


def kubeconfig_paths() -> List[Path]:
    raw = os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    return [Path(p).expanduser() for p in raw.split(os.pathsep) if p]


def _kube_context(_spec: StackSpec, context: str) -> str:
    import yaml

    paths = [p for p in kubeconfig_paths() if p.is_file()]
    if not paths:
        where = os.pathsep.join(str(p) for p in kubeconfig_paths())
        return f"no kubeconfig (looked for {where}; set KUBECONFIG or see docs/runbook-kubernetes.md)"
    contexts: Dict[str, dict] = {}
    clusters: Dict[str, dict] = {}
    for path in paths:
        loaded = yaml.safe_load(path.read_text()) or {}
        contexts.update({c["name"]: c.get("context") or {} for c in loaded.get("contexts") or []})
        clusters.update({c["name"]: c.get("cluster") or {} for c in loaded.get("clusters") or []})
    if context not in contexts:
        return (f"kube context '{context}' not in {', '.join(map(str, paths))} (found: "
                f"{', '.join(sorted(contexts)) or 'none'}; set MLOPS_KUBERNETES_KUBE_CONTEXT to choose another)")
    server = clusters.get(contexts[context].get("cluster", ""), {}).get("server", "")
    parsed = urlparse(server)
    if not parsed.hostname:
        return f"kube context '{context}': its cluster has no API server URL"
    problem = _tcp(parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80))
    return f"Kubernetes API server of context '{context}' unreachable: {problem}" if problem else ""


def _docker(_spec: StackSpec, _arg: str) -> str:
    if not shutil.which("docker"):
        return "no Docker engine: the `docker` CLI is not installed (the image builder builds images with Docker)"
    try:
        result = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True,  # noqa: S607
                                text=True, timeout=15, check=False)
    except subprocess.TimeoutExpired:
        return "no Docker engine: `docker info` did not answer within 15 s"
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["no answer"])[-1]
        return f"no Docker engine reachable (the image builder needs one): {reason}"
    return ""


def _reachable(_spec: StackSpec, url: str) -> str:
    parsed = urlparse(url)
    if not parsed.hostname:
        return f"requirement 'reachable:{url}': not a URL"
    problem = _tcp(parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80))
    return f"{url} unreachable: {problem}" if problem else ""


CHECKS: Dict[str, Callable[[StackSpec, str], str]] = {
    "service": _service,
    "secret": _secret,
    "kube_context": _kube_context,
    "docker": _docker,
    "reachable": _reachable,
}


def missing(spec: StackSpec) -> List[str]:
    """One message per unmet requirement of the spec (empty when the stack can work here)."""
    problems = []
    for requirement in spec.requires:
        kind, _, arg = str(requirement).partition(":")
        check = CHECKS.get(kind)
        if check is None:
            problems.append(f"{spec.path}: unknown requirement '{requirement}'; known kinds: {', '.join(CHECKS)}")
            continue
        problem = check(spec, arg)
        if problem:
            problems.append(problem)
    return problems


def ensure_ready(spec: StackSpec) -> None:
    """Raises StackNotReady listing every unmet requirement."""
    problems = missing(spec)
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        raise StackNotReady(f"stack '{spec.name}' cannot run here; missing:\n{listed}")
