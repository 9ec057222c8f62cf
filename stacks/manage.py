"""What `python run.py stack list|show|up|use|down` and `python run.py dashboard` do, as plain functions.

`list`, `show` and `use` take any stack registered with ZenML as well as the project's specs (stacks/*.yaml); `up`
and `down` start and stop a spec's local services. The active stack is ZenML's own active stack: `stack use` and
`zenml stack set` stay in step. Stacks whose services include the ZenML server make the client talk to it; other
stacks keep the client where it is (a running local server keeps showing their runs) unless that server is gone.
"""

from __future__ import annotations

import webbrowser
from typing import Callable, Dict, List, Optional, Tuple

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


def remember_active() -> None:
    """Records ZenML's active stack for the read-only fast paths (stacks/fast_paths.py), if it is recordable."""
    from stacks.fast_paths import remember_active_stack

    name = active_stack()
    if name:
        remember_active_stack(name)


def list_stacks() -> List[Dict[str, object]]:
    """Every registered ZenML stack and every project spec: name, origin, description, what it can run, active."""
    from zenml.client import Client
    from zenml.utils.pagination_utils import depaginate

    from stacks.registration import ensure_repository, register_project_flavors
    from stacks.requirements import ready_for
    from stacks.selection import components_of
    from stacks.services import zenml_server

    zenml_server.disconnect_if_unreachable()
    ensure_repository()
    register_project_flavors()  # so that the user's own stacks can take them (see stacks/registration.py)
    active = active_stack()
    specs = available_stacks()
    registered = {s.name: s for s in depaginate(Client().list_stacks)}
    rows: List[Dict[str, object]] = []
    for name in sorted(set(specs) | set(registered), key=lambda n: (n not in specs, n)):
        if name in specs:
            components = spec_components(spec(name))
            description = spec(name).description
        else:
            components = components_of(registered[name])
            description = ", ".join(f"{ctype} {cname} ({flavor})" for ctype, (cname, flavor) in components.items())
        rows.append({"name": name, "origin": "project" if name in specs else "zenml", "registered": name in registered,
                     "active": name == active, "description": description, "ready_for": ready_for(components)})
    return rows


def spec_components(stack: StackSpec) -> Dict[str, Tuple[str, str]]:
    """Component type -> (name, flavor) of a spec, the shape stacks/requirements.py checks."""
    return {c.type: (c.name, c.flavor) for c in stack.components}


def show(name: str) -> Dict[str, object]:
    """A stack's components (configuration with secret references, never values), services, prerequisites, and
    what it lacks for each pipeline. Works for the project's specs and for any registered ZenML stack."""
    from stacks import prerequisites, services
    from stacks.requirements import PIPELINES, problems

    if name not in available_stacks():
        return _show_registered(name)
    stack = spec(name)
    lacks = {p: problems(name, spec_components(stack), [p]) for p in PIPELINES}
    return {
        "name": stack.name,
        "origin": f"project spec {stack.path}",
        "description": stack.description,
        "settings": dict(stack.settings),
        "components": {c.type: {"name": c.name, "flavor": c.flavor, "configuration": c.configuration}
                       for c in stack.components},
        "services": services.status(stack) if stack.services else {},
        "endpoints": endpoints(stack),
        "lacks": {p: found for p, found in lacks.items() if found},
        "missing": prerequisites.missing(stack),
    }


_CREDENTIAL_WORDS = ("password", "secret", "token", "key")


def _masked(configuration: Dict[str, object]) -> Dict[str, object]:
    """A registered component's configuration with credential-like values hidden (secret references stay)."""
    def hide(key: str, value: object) -> object:
        credential = any(key == w or key.endswith(f"_{w}") for w in _CREDENTIAL_WORDS)
        return "***" if credential and value and not str(value).startswith("{{") else value

    return {k: hide(k, v) for k, v in configuration.items()}


def _show_registered(name: str) -> Dict[str, object]:
    from stacks.registration import ensure_repository, register_project_flavors
    from stacks.requirements import PIPELINES
    from stacks.selection import find, lacks
    from stacks.services import zenml_server

    zenml_server.disconnect_if_unreachable()
    ensure_repository()
    register_project_flavors()
    stack = find(name)
    lacking = {p: lacks(stack, [p]) for p in PIPELINES}
    return {
        "name": stack.name,
        "origin": "registered with zenml (not a project spec)",
        "components": {str(ctype): {"name": comps[0].name, "flavor": comps[0].flavor_name,
                                    "configuration": _masked(dict(comps[0].configuration))}
                       for ctype, comps in stack.components.items() if comps},
        "lacks": {p: found for p, found in lacking.items() if found},
        "missing": [],
    }


def endpoints(stack: StackSpec) -> Dict[str, str]:
    """Where a user looks at a stack's local services, and how to get in (never the credentials themselves)."""
    from stacks.services import port

    found = {}
    if "zenml" in stack.services:
        from stacks.services import zenml_server

        found["ZenML dashboard"] = (f"http://127.0.0.1:{port(stack, 'zenml')} (user {zenml_server.DASHBOARD_USER}, "
                                    f"password in {zenml_server.password_file()})")
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


def prepare(name: str, say: Say = print) -> StackSpec:
    """Gets a spec's stack ready to run on without activating it: prerequisites (raises StackNotReady naming what is
    missing), the connection to its ZenML server if it has one, and its registration (converged to the spec)."""
    from stacks import prerequisites
    from stacks.registration import register_stack
    from stacks.services import zenml_server

    stack = spec(name)
    prerequisites.ensure_ready(stack)
    if "zenml" in stack.services:
        zenml_server.connect()
    elif zenml_server.disconnect_if_unreachable():
        say("the local ZenML server is gone: using the local ZenML store")
    register_stack(name, activate=False, say=say)
    if zenml_server.connected():
        say(f"dashboard: {zenml_server.url()}")
    remember_active()  # lets read-only commands answer without ZenML while nothing changes
    return stack


def use(name: str, say: Say = print) -> Optional[StackSpec]:
    """Makes `name` the active stack (as `zenml stack set` does): a project spec after checking it can work here
    and registering it (returns its spec), or any stack registered with ZenML (says what it cannot run yet)."""
    from zenml.client import Client

    if name in available_stacks():
        stack = prepare(name, say)
        Client().activate_stack(name)
        remember_active()
        return stack
    from stacks.registration import ensure_repository
    from stacks.requirements import PIPELINES, ready_for
    from stacks.selection import components_of, find

    ensure_repository()
    registered = find(name)  # raises StackSpecError naming where stacks come from
    Client().activate_stack(name)
    remember_active()
    unready = [p for p in PIPELINES if p not in ready_for(components_of(registered))]
    if unready:
        say(f"note: stack '{name}' cannot run the {', '.join(unready)} pipeline(s) yet: "
            f"`python run.py stack show {name}` says what to add")
    return None


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
    say(f"dashboard: {url}  (user {zenml_server.DASHBOARD_USER}, password in {zenml_server.password_file()}; "
        f"stop it with `python run.py stack down server`)")
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    return url
