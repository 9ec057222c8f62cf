"""Registers a stack spec (stacks/<name>.yaml) in the ZenML store, idempotently, and repairs partial registrations.

We do not use `zenml stack import`: it prompts and its format changes across versions. Each call converges the
store to the spec: missing flavors and components are created, drifted configuration is updated, a component of
the wrong flavor is replaced, and the stack is (re)assembled from exactly the spec's components.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable, Dict

from stacks.spec import ComponentSpec, StackSpec, load_stack_spec
from core.state import PROJECT_ROOT, state_dir

logger = logging.getLogger(__name__)


def spec_variables() -> Dict[str, str]:
    """Placeholders a stack spec may use."""
    return {"state_dir": str(state_dir()), "project_root": str(PROJECT_ROOT)}


def ensure_repository(root: Path | None = None) -> Path:
    """Initialises the ZenML repository (`.zen/`) at the project root, or at $ZENML_REPOSITORY_PATH, once."""
    from zenml.client import Client

    root = Path(root or os.environ.get("ZENML_REPOSITORY_PATH") or PROJECT_ROOT)
    if not (root / ".zen").is_dir():
        Client.initialize(root=root)
    client = Client()
    if client.root is None or Path(client.root).resolve() != root.resolve():
        # A Client made before the repository existed would keep writing the active stack to the global config,
        # where `zenml` run in the project (which finds `.zen/`) would not see it.
        client.activate_root(root)
    return root


def ensure_flavor(source: str, component_type: str) -> None:
    """Registers the custom flavor class at `source` unless a flavor of that name and type exists."""
    from zenml.client import Client
    from zenml.enums import StackComponentType
    from zenml.stack.flavor import validate_flavor_source

    ctype = StackComponentType(component_type)
    _, flavor_obj = validate_flavor_source(source=source, component_type=ctype)
    client = Client()
    if not client.zen_store.list_flavors(flavor_filter_model=_flavor_filter(flavor_obj.name, ctype)).items:
        client.create_flavor(source=source, component_type=ctype)
        logger.info("registered flavor %s (%s)", flavor_obj.name, component_type)


# The project's own flavors, registered in every store the project uses, so that a user's own stack can take them
# with the plain `zenml` CLI (`zenml model-deployer register seldon --flavor=project_seldon`, run from the project
# directory, where ZenML finds `.zen/` and imports the sources).
PROJECT_FLAVORS = (
    ("stacks.flavors.whylogs_validator.ProjectWhylogsDataValidatorFlavor", "data_validator"),
    ("stacks.seldon.flavor.SeldonModelDeployerFlavor", "model_deployer"),
    ("stacks.flavors.webhook_alerter.WebhookAlerterFlavor", "alerter"),
)


def register_project_flavors() -> None:
    """Registers the project's flavors in the ZenML store (once: existing ones are left alone)."""
    for source, component_type in PROJECT_FLAVORS:
        ensure_flavor(source, component_type)


def _ensure_flavors(spec: StackSpec) -> None:
    register_project_flavors()
    for flavor in spec.flavors:
        if (flavor.source, flavor.type) not in PROJECT_FLAVORS:
            ensure_flavor(flavor.source, flavor.type)


def _flavor_filter(name: str, ctype):  # noqa: ANN001, ANN202 - zenml types imported lazily
    from zenml.models import FlavorFilter

    return FlavorFilter(name=name, type=ctype)


def _ensure_component(component: ComponentSpec, stack_name: str, say: Callable[[str], None]):  # noqa: ANN202
    from zenml.client import Client
    from zenml.enums import StackComponentType

    client = Client()
    ctype = StackComponentType(component.type)
    matches = client.list_stack_components(name=component.name, type=ctype).items
    if matches and matches[0].flavor_name != component.flavor:
        # A component cannot change flavor in place: detach it from our stack and replace it.
        say(f"replacing {component.type} '{component.name}': flavor {matches[0].flavor_name} -> {component.flavor}")
        if any(s.name == stack_name for s in client.list_stacks(name=stack_name).items):
            client.delete_stack(stack_name)
        client.delete_stack_component(component.name, ctype)
        matches = []
    if not matches:
        say(f"registering {component.type} '{component.name}' ({component.flavor})")
        return client.create_stack_component(
            name=component.name,
            flavor=component.flavor,
            component_type=ctype,
            configuration=component.configuration,
        )
    current = {k: v for k, v in matches[0].configuration.items() if k in component.configuration}
    if current != component.configuration:
        say(f"updating {component.type} '{component.name}' configuration")
        return client.update_stack_component(component.name, ctype, configuration=component.configuration)
    return matches[0]


def register_stack(name: str, activate: bool = True, say: Callable[[str], None] = logger.info) -> StackSpec:
    """Converges the ZenML store to stacks/<name>.yaml and optionally makes it the active stack."""
    from zenml.client import Client
    from zenml.enums import StackComponentType

    spec = load_stack_spec(name, spec_variables())
    if activate:
        from stacks.prerequisites import ensure_ready

        ensure_ready(spec)  # a stack that cannot work here never becomes active (StackNotReady names what is missing)
    ensure_repository()
    _ensure_flavors(spec)
    components = {
        StackComponentType(c.type): _ensure_component(c, spec.name, say).id for c in spec.components
    }
    client = Client()
    existing = client.list_stacks(name=spec.name).items
    if not existing:
        say(f"registering stack '{spec.name}'")
        client.create_stack(name=spec.name, components=components)
    else:
        current = {ctype: [c.id for c in comps] for ctype, comps in existing[0].components.items()}
        wanted = {ctype: [cid] for ctype, cid in components.items()}
        if current != wanted:
            say(f"repairing stack '{spec.name}' components")
            removed = [ctype for ctype in current if ctype not in wanted]
            client.update_stack(
                spec.name,
                component_updates={**{k: [v] for k, v in components.items()}, **{k: [] for k in removed}},
            )
    if activate and client.active_stack_model.name != spec.name:
        client.activate_stack(spec.name)
    return spec


def is_registered(name: str) -> bool:
    """Whether a stack with this name exists in the ZenML store."""
    from zenml.client import Client

    return bool(Client().list_stacks(name=name).items)
