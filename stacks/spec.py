"""Stack specs: the project's own YAML description of a ZenML stack (see stacks/local.yaml).

Plain Python: parsing and validating a spec needs no ZenML, so `run.py stack list|show` stays fast.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any, Dict, List

import yaml

STACKS_DIR = Path(__file__).resolve().parent

COMPONENT_TYPES = (
    "orchestrator",
    "artifact_store",
    "experiment_tracker",
    "model_registry",
    "data_validator",
    "model_deployer",
    "container_registry",
    "image_builder",
    "step_operator",
    "alerter",
)


class StackSpecError(ValueError):
    """A stack spec file is missing or malformed."""


@dataclasses.dataclass(frozen=True)
class ComponentSpec:
    type: str
    name: str
    flavor: str
    configuration: Dict[str, Any]


@dataclasses.dataclass(frozen=True)
class FlavorSpec:
    source: str
    type: str


@dataclasses.dataclass(frozen=True)
class StackSpec:
    name: str
    description: str
    components: List[ComponentSpec]
    flavors: List[FlavorSpec]
    requires: List[str]  # what must be reachable for this stack to work (checked at `use`/run start)
    path: Path
    settings: Dict[str, str] = dataclasses.field(default_factory=dict)  # resolved `{placeholder}` values
    services: List[str] = dataclasses.field(default_factory=list)  # local services `stack up` starts

    def component(self, component_type: str) -> ComponentSpec | None:
        return next((c for c in self.components if c.type == component_type), None)


def available_stacks() -> List[str]:
    """Names of the stack specs shipped in stacks/ (one `<name>.yaml` each)."""
    return sorted(p.stem for p in STACKS_DIR.glob("*.yaml"))


def _substitute(value: Any, variables: Dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, replacement in variables.items():
            value = value.replace("{" + key + "}", replacement)
        return value
    if isinstance(value, dict):
        return {k: _substitute(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, variables) for v in value]
    return value


def setting_env_var(stack: str, key: str) -> str:
    """The environment variable that overrides a spec setting: MLOPS_<STACK>_<KEY>."""
    return "MLOPS_" + re.sub(r"[^A-Z0-9]", "_", f"{stack}_{key}".upper())


def _settings(raw: Any, stack: str, path: Path) -> Dict[str, str]:
    """A spec's `settings:` (placeholder defaults), each overridable by its environment variable."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise StackSpecError(f"{path}: 'settings' must be a mapping of name to default value")
    return {str(k): os.environ.get(setting_env_var(stack, str(k)), "" if v is None else str(v)) for k, v in raw.items()}


def load_stack_spec(name: str, variables: Dict[str, str] | None = None) -> StackSpec:
    """Reads stacks/<name>.yaml, fills `{placeholders}` from its settings and `variables`, and checks its shape."""
    path = STACKS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise StackSpecError(f"unknown stack '{name}': no {path}; available stacks: {', '.join(available_stacks())}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise StackSpecError(f"{path}: not valid YAML: {exc}") from None
    settings = _settings(raw.get("settings"), str(raw.get("name", name)), path)
    variables = {**settings, **(variables or {})}
    raw = _substitute(raw, variables)
    settings = {k: _substitute(v, variables) for k, v in settings.items()}  # a setting may use {state_dir}
    if not isinstance(raw.get("components"), dict) or not raw["components"]:
        raise StackSpecError(f"{path}: 'components' must be a mapping of component type to component")
    components = []
    for ctype, body in raw["components"].items():
        if ctype not in COMPONENT_TYPES:
            raise StackSpecError(f"{path}: unknown component type '{ctype}'; expected one of {', '.join(COMPONENT_TYPES)}")
        if not isinstance(body, dict) or not body.get("name") or not body.get("flavor"):
            raise StackSpecError(f"{path}: component '{ctype}' needs a 'name' and a 'flavor'")
        components.append(ComponentSpec(ctype, body["name"], body["flavor"], dict(body.get("configuration") or {})))
    for required in ("orchestrator", "artifact_store"):
        if not any(c.type == required for c in components):
            raise StackSpecError(f"{path}: a stack needs an '{required}' component")
    flavors = [FlavorSpec(f["source"], f["type"]) for f in raw.get("flavors") or []]
    return StackSpec(
        name=raw.get("name", name),
        description=raw.get("description", ""),
        components=components,
        flavors=flavors,
        requires=list(raw.get("requires") or []),
        path=path,
        settings=settings,
        services=list(raw.get("services") or []),
    )
