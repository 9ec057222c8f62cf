"""Click commands for stacks and the dashboard; run.py adds them with `cli.add_command(stack)` and
`cli.add_command(dashboard)`. Only click and the standard library load at import time, so `--help` stays instant.

Also runnable on its own: `python -m stacks.commands stack up server`.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

import click


def _say(message: str) -> None:
    click.echo(message)


def _run(action: Callable[[], Any], prepare: bool = True) -> Any:
    """Runs a command body; stack, spec and service problems print one red line (or list) and exit 1.
    `prepare=False` for a body that loads neither ZenML nor whylogs (skips importing their settings)."""
    from stacks.services.process import ServiceError
    from stacks.spec import StackSpecError

    if prepare:
        from pipelines.launch import prepare_environment

        prepare_environment()
    try:
        return action()
    except (StackSpecError, ServiceError) as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(1)


def _name_argument() -> Callable:
    return click.argument("name", metavar="NAME")


@click.group("stack")
def stack() -> None:
    """List, inspect, start, switch and stop stacks: the project's specs (stacks/*.yaml) and any ZenML stack."""


@stack.command("list")
def list_command() -> None:
    """Every registered ZenML stack and the project's specs; * marks the active one."""

    from stacks import fast_paths

    def show_rows(rows: list) -> None:
        for row in rows:
            marker = "*" if row["active"] else " "
            runs = ", ".join(row["ready_for"]) or "none of the pipelines (`stack show` says what it lacks)"
            state = "" if row["registered"] else "; not registered yet"
            click.echo(f"{marker} {row['name']:<12} {row['origin']:<8} {row['description']}  [runs: {runs}{state}]")

    def full_listing() -> None:
        from stacks.manage import list_stacks, remember_active

        rows = list_stacks()
        show_rows(rows)
        remember_active()  # the listing may have registered flavors: record after the store writes
        fast_paths.remember_stack_rows(rows)

    cached = fast_paths.stack_rows()  # None unless recorded and nothing changed since: then ZenML is not needed
    if cached is not None:
        _run(lambda: show_rows(cached), prepare=False)
    else:
        _run(full_listing)


@stack.command("show")
@_name_argument()
def show_command(name: str) -> None:
    """Components, settings, local services, unmet prerequisites and what each pipeline lacks (any stack)."""

    def body() -> None:
        import yaml

        from stacks.manage import show

        info = show(name)
        missing, lacks = info.pop("missing"), info.pop("lacks")
        click.echo(yaml.safe_dump(info, sort_keys=False, default_flow_style=False).rstrip())
        for pipeline, problems in lacks.items():
            click.secho(f"cannot run the {pipeline} pipeline:", fg="yellow")
            for problem in problems:
                click.echo(f"  - {problem}")
        if missing:
            click.secho("cannot run here yet:", fg="yellow")
            for problem in missing:
                click.echo(f"  - {problem}")
        elif not lacks:
            click.secho("ready to use", fg="green")

    _run(body)


@stack.command("up")
@_name_argument()
@click.option("--no-activate", is_flag=True, help="Start and register, but keep the current active stack.")
def up_command(name: str, no_activate: bool) -> None:
    """Start what the stack needs on this machine, register it and make it active."""

    def body() -> None:
        from stacks.manage import up

        up(name, _say, activate=not no_activate)
        click.echo(f"stack '{name}' is up" + ("" if no_activate else " and active"))

    _run(body)


@stack.command("use")
@_name_argument()
def use_command(name: str) -> None:
    """Make NAME the active stack (same as `zenml stack set`; a project spec is checked and registered first)."""

    def body() -> None:
        from stacks.manage import use

        use(name, _say)
        click.echo(f"active stack: {name}")

    _run(body)


@stack.command("down")
@_name_argument()
def down_command(name: str) -> None:
    """Stop the stack's local services (the data stays in the run-state directory)."""

    def body() -> None:
        from stacks.manage import down

        stopped = down(name, _say)
        if stopped:
            click.echo(f"stopped: {', '.join(stopped)}")

    _run(body)


@click.command("dashboard")
@click.option("--port", type=int, default=None, help="Port of the local ZenML server (default: the server stack's).")
@click.option("--no-browser", is_flag=True, help="Print the URL without opening a browser.")
def dashboard(port: int | None, no_browser: bool) -> None:
    """Start the local ZenML server and open its dashboard (pipelines, runs, artifacts, visualizations)."""

    def body() -> None:
        from stacks.manage import dashboard as open_dashboard

        open_dashboard(port=port, open_browser=not no_browser, say=_say)

    _run(body)


@click.group()
def main() -> None:
    """Stack and dashboard commands (the same as in run.py)."""


main.add_command(stack)
main.add_command(dashboard)

if __name__ == "__main__":
    main()
