"""Which registered ZenML stack a command runs on, checked before any step runs.

- `--stack NAME` runs this one command on NAME, the way `zenml pipeline run --stack NAME` does: the active stack (what
  `zenml stack set` and `python run.py stack use` change) stays as it was. NAME is any registered ZenML stack, or one
  of the project's specs (stacks/*.yaml), which is registered (or repaired) first.
- Without `--stack`, the command runs on the active stack as it is, however it was registered.
- The one exception: ZenML's untouched `default` stack (a fresh store's own components: nothing chosen yet) cannot
  run these pipelines, so a command that needs more registers the project's `local` stack and makes it active,
  saying so.
A stack lacking a component a pipeline needs stops the command here, naming the component and the `zenml` command
that adds it (stacks/requirements.py).
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from stacks.requirements import ZENML_CLI, problems, require
from stacks.spec import StackSpecError, available_stacks

Say = Callable[[str], None]
DEFAULT_STACK = "default"  # what ZenML makes active in a fresh store
FALLBACK_STACK = "local"


def components_of(stack: Any) -> Dict[str, Tuple[str, str]]:
    """Component type -> (name, flavor) of a registered stack (a ZenML StackResponse)."""
    return {str(ctype): (comps[0].name, comps[0].flavor_name) for ctype, comps in stack.components.items() if comps}


def registered_components() -> Dict[str, List[Tuple[str, str]]]:
    """(name, flavor) of the registered components of each type a fix command may reuse."""
    from zenml.client import Client
    from zenml.utils.pagination_utils import depaginate

    return {ctype: [(c.name, c.flavor_name) for c in depaginate(Client().list_stack_components, type=ctype)]
            for ctype in ZENML_CLI}


def find(name: str) -> Any:
    """The registered stack called `name`; raises StackSpecError listing where stacks come from when there is none."""
    from zenml.client import Client

    matches = [s for s in Client().list_stacks(name=name).items if s.name == name]
    if not matches:
        raise StackSpecError(
            f"unknown stack '{name}': not a registered ZenML stack (`zenml stack list`) nor one of the project's "
            f"specs ({', '.join(available_stacks())})")
    return matches[0]


def lacks(stack: Any, pipelines: Sequence[str]) -> List[str]:
    """What `stack` lacks for `pipelines`, each with the `zenml` command that adds it (empty: ready)."""
    from core.state import state_dir

    components = components_of(stack)
    if not problems(stack.name, components, pipelines):
        return []
    return problems(stack.name, components, pipelines, registered_components(), str(state_dir()))


def check(stack: Any, pipelines: Sequence[str]) -> None:
    """Raises StackLacksComponents when `stack` lacks what `pipelines` need, with the commands that add it."""
    from core.state import state_dir

    components = components_of(stack)
    if problems(stack.name, components, pipelines):
        require(stack.name, components, pipelines, registered_components(), str(state_dir()))


def _untouched_default(stack: Any) -> bool:
    """ZenML's initial stack as a fresh store creates it: only its own components, all called `default`."""
    return stack.name == DEFAULT_STACK and all(name == DEFAULT_STACK for name, _ in components_of(stack).values())


def prepare(name: Optional[str], pipelines: Sequence[str], say: Say = print) -> str:
    """Makes the stack this command runs on ready and returns its name; never changes the active stack, except
    that ZenML's untouched `default` stack gives way to the project's `local` stack (see the module docstring)."""
    from zenml.client import Client
    from zenml.constants import ENV_ZENML_ACTIVE_STACK_ID

    from stacks import manage
    from stacks.registration import ensure_repository, register_project_flavors
    from stacks.services import zenml_server
    from stacks.zenml_tuning import tune_local_zenml

    if name not in available_stacks() and zenml_server.disconnect_if_unreachable():
        say("the local ZenML server is gone: using the local ZenML store")
    ensure_repository()
    tune_local_zenml()
    register_project_flavors()  # so that `zenml ... register --flavor=project_seldon` works for the user's stacks
    client = Client()
    active = client.active_stack_model
    if name is None and _untouched_default(active) and problems(active.name, components_of(active), pipelines):
        say(f"the active stack is ZenML's initial '{DEFAULT_STACK}' stack (ZenML's own components only), which "
            f"cannot run this: registering the project's '{FALLBACK_STACK}' stack and making it active "
            f"(`zenml stack set {DEFAULT_STACK}` goes back; `python run.py stack list` shows every stack)")
        manage.use(FALLBACK_STACK, say)
        name = FALLBACK_STACK
    else:
        name = name or active.name
        if name in available_stacks():
            manage.prepare(name, say)  # converge the spec, check its prerequisites, connect to its ZenML server
    stack = find(name)
    check(stack, pipelines)
    active_name = client.active_stack_model.name
    if stack.name != active_name:
        os.environ[ENV_ZENML_ACTIVE_STACK_ID] = str(stack.id)  # this process only; `zenml` still sees the active one
        say(f"running on stack '{name}' for this command; the active stack stays '{active_name}' "
            f"(`python run.py stack use {name}` makes it active)")
    return name
