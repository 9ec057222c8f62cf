"""What `python run.py stack list|show|up|use|down` and `python run.py dashboard` do, as plain functions.

The active stack is ZenML's own active stack: `stack use` and `zenml stack set` stay in step. Stacks whose
services include the ZenML server make the client talk to it; other stacks keep the client where it is (a running
local server keeps showing their runs) unless that server is gone.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional

from stacks.spec import StackSpec, available_stacks, load_stack_spec

Say = Callable[[str], None]


def spec(name: str) -> StackSpec:
    """The resolved spec of a stack (placeholders filled)."""
    from stacks.registration import spec_variables

    return load_stack_spec(name, spec_variables())


def active_stack() -> Optional[str]:
    """Name of ZenML's active stack (None when the store cannot be reached)."""
    from zenml.client import Client

    try:
        return Client().active_stack_model.name
    except Exception:  # noqa: BLE001 - an unreachable server must not break `stack list`
        return None


def list_stacks() -> List[Dict[str, str]]:
    """One row per stack spec: name, description, whether it is active."""
    from stacks.services import zenml_server

    zenml_server.disconnect_if_unreachable()
    return stack_rows(active_stack())


def stack_rows(active: Optional[str]) -> List[Dict[str, str]]:
    """One row per stack spec, `active` marked (shared with the fast path, stacks/fast_paths.py)."""
    return [{"name": name, "description": spec(name).description, "active": name == active}
            for name in available_stacks()]


def show(name: str) -> Dict[str, object]:
    """A stack's components (configuration with secret references, never values), services and prerequisites."""
    from stacks import prerequisites, services

    stack = spec(name)
    return {
        "name": stack.name,
        "description": stack.description,
        "file": str(stack.path),
        "settings": dict(stack.settings),
        "components": {c.type: {"name": c.name, "flavor": c.flavor, "configuration": c.configuration}
                       for c in stack.components},
        "services": services.status(stack) if stack.services else {},
        "endpoints": endpoints(stack),
        "missing": prerequisites.missing(stack),
    }


def endpoints(stack: StackSpec) -> Dict[str, str]:
    """Where a user looks at a stack's local services, and how to get in (never the credentials themselves)."""
    from stacks.services import port

    found = {}
    if "zenml" in stack.services:
        found["ZenML dashboard"] = f"http://127.0.0.1:{port(stack, 'zenml')}"
    if "mlflow" in stack.services:
        from stacks.services import mlflow_server  # imports requests: only for a stack that runs MLflow

        found["MLflow UI"] = (f"{mlflow_server.url(port(stack, 'mlflow'))} (user {mlflow_server.ADMIN}, password: "
                              f"`zenml secret get {mlflow_server.SECRET}`)")
    return found


def up(name: str, say: Say = print, activate: bool = True) -> Dict[str, str]:
    """Starts what the stack needs on this machine, registers it, and (by default) makes it active."""
    from stacks import services

    stack = spec(name)
    started = services.up(stack, say)
    if activate:
        use(name, say)
    else:
        from stacks.registration import register_stack

        register_stack(name, activate=False, say=say)
    for what, where in endpoints(stack).items():
        say(f"{what}: {where}")
    return started


def use(name: str, say: Say = print) -> StackSpec:
    """Makes `name` the active stack after checking it can work here (raises StackNotReady naming what is missing)."""
    from stacks import prerequisites
    from stacks.registration import register_stack
    from stacks.services import zenml_server

    stack = spec(name)
    if "zenml" in stack.services:
        prerequisites.ensure_ready(stack)
        zenml_server.connect()
    elif zenml_server.disconnect_if_unreachable():
        say("the local ZenML server is gone: using the local ZenML store")
    register_stack(name, activate=True, say=say)
    if zenml_server.connected():
        say(f"dashboard: {zenml_server.url()}")
    from stacks.fast_paths import remember_active_stack

    remember_active_stack(stack.name)  # lets read-only commands answer without ZenML while nothing changes
    return stack


def down(name: str, say: Say = print) -> List[str]:
    """Stops the stack's local services; switches to `local` if this stack was active. Returns what stopped."""
    from stacks import services

    stack = spec(name)
    was_active = active_stack() == stack.name
    stopped = services.down(stack, say)
    if was_active and stack.name != "local" and stack.services:
        say("switching to the local stack")
        try:
            use("local", say)
        except Exception as exc:  # noqa: BLE001 - the services are stopped either way; say why the switch failed
            say(f"could not switch to the local stack ({exc}); run `python run.py stack use local`")
    if not stopped:
        say(f"nothing of stack '{name}' was running")
    return stopped


def dashboard(port: Optional[int] = None, open_browser: bool = True, say: Say = print) -> str:
    """Starts the local ZenML server (or re-uses it), connects the client, skips onboarding; returns the URL."""
    from stacks.services import zenml_server

    if port is None:
        port = int(spec("server").settings.get("zenml_port") or zenml_server.DEFAULT_PORT)
    url = zenml_server.start(port, say)
    say(f"dashboard: {url}  (stop it with `python run.py stack down server` or `zenml logout --local`)")
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    return url
