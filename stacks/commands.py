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
    """List, inspect, start, switch and stop stacks (specs in stacks/*.yaml)."""


@stack.command("list")
def list_command() -> None:
    """The stacks this project ships, with the active one marked."""

    from stacks.fast_paths import active_stack
    from stacks.manage import list_stacks, stack_rows

    def show_rows(rows: list) -> None:
        for row in rows:
            marker = "*" if row["active"] else " "
            click.echo(f"{marker} {row['name']:<12} {row['description']}")

    recorded = active_stack()  # None unless recorded and unchanged since: then ZenML is not needed
    if recorded:
        _run(lambda: show_rows(stack_rows(recorded)), prepare=False)
    else:
        _run(lambda: show_rows(list_stacks()))


@stack.command("show")
@_name_argument()
def show_command(name: str) -> None:
    """Components, settings, local services and unmet prerequisites of a stack."""

    def body() -> None:
        import yaml

        from stacks.manage import show

        info = show(name)
        missing = info.pop("missing")
        click.echo(yaml.safe_dump(info, sort_keys=False, default_flow_style=False).rstrip())
        if missing:
            click.secho("cannot run here yet:", fg="yellow")
            for problem in missing:
                click.echo(f"  - {problem}")
        else:
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
    """Make NAME the active stack (same as `zenml stack set`, after checking it can work here)."""

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
