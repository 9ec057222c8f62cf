#!/usr/bin/env python
"""CLI start-up: the project's commands beside ZenML's own CLI doing the same, median of `--repeat` fresh processes.

Measured side by side in one run, round-robin (each round runs every command once), so that load from other work on
the machine falls on all commands alike. ZenML's store lives in a temporary directory, with the `local` stack
registered by `run.py stack use local` and one deployment in the local backend's registry (a stopped one: listing
reads the registry and checks the recorded processes, it never calls the endpoint).

- `run.py deployments` / `run.py stack list`: the fast path (stacks/fast_paths.py: the active stack recorded by
  `stack use`, unchanged since) and the full ZenML path (record removed before each run);
- `zenml stack list` and `zenml model-deployer models list`: ZenML's CLI for the same questions.

Targets (issue 11): `python run.py --help` <= 0.5 s; `run.py deployments` and `run.py stack list` <= 1.0 s.

    python bench/cli_startup.py --repeat 5
    python bench/cli_startup.py --repeat 5 --importtime   # also: the slowest imports of each run.py command
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    PROJECT_ROOT, PYTHON, Measurement, check, machine_note, markdown_table, measure, summary,
)

TARGETS = {"python run.py --help": 0.5, "python run.py deployments": 1.0, "python run.py stack list": 1.0}


@dataclasses.dataclass
class Command:
    name: str
    argv: List[str]
    before: Optional[Callable[[], None]] = None  # untimed, before every run (set up the path being measured)


class RecordedStack:
    """Keeps the fast path's record as `stack use` left it (restored before a fast run, removed before a slow one)."""

    def __init__(self, env: Dict[str, str], project: Path):
        self.env, self.project = env, project
        self.path = Path(env["MLOPS_STATE_DIR"]) / "cache" / "active-stack.json"
        self.saved = self.path.read_bytes()

    def restore(self) -> None:
        self.path.write_bytes(self.saved)
        # The record must still be current (no store write, same ZenML config): else the figure would be the slow path.
        code = "from stacks.fast_paths import current_record; print(current_record() is not None)"
        out = subprocess.run([PYTHON, "-c", code], env=self.env, cwd=self.project, capture_output=True, text=True,
                             check=True).stdout.strip()
        if out != "True":
            raise RuntimeError("the recorded active stack went stale during the benchmark: fast-path figures invalid")

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def seed_deployment(state_dir: Path) -> None:
    """One stopped deployment in the local backend's registry, as `run.py deployments stop churn` leaves it."""
    registry = state_dir / "seldon-local" / "registry.json"
    registry.parent.mkdir(parents=True, exist_ok=True)
    spec = {"name": "churn-classifier", "model_uri": str(state_dir / "models" / "churn-classifier" / "3"),
            "model_name": "churn-classifier", "model_version": "3", "run_id": "0" * 32, "data_fingerprint": "",
            "git_commit": "", "replicas": 1, "workers": None, "threads": None, "resources": {}, "rollout": "replace",
            "canary_traffic_percent": 10}
    registry.write_text(json.dumps({"ingress": {"port": 18000}, "deployments": {"churn-classifier": {
        "state": "stopped", "spec": spec, "updated_at": "2026-12-02T00:00:00+00:00"}}}))


def commands(project: Path, record: RecordedStack) -> List[Command]:
    run, zenml = [PYTHON, str(project / "run.py")], str(Path(PYTHON).with_name("zenml"))
    return [
        Command("python run.py --help", [*run, "--help"]),
        Command("python run.py train --help", [*run, "train", "--help"]),
        Command("python run.py deployments", [*run, "deployments"], record.restore),
        Command("python run.py deployments (no record: ZenML path)", [*run, "deployments"], record.remove),
        Command("python run.py stack list", [*run, "stack", "list"], record.restore),
        Command("python run.py stack list (no record: ZenML path)", [*run, "stack", "list"], record.remove),
        Command("python run.py stack show local", [*run, "stack", "show", "local"]),
        Command("zenml --help", [zenml, "--help"]),
        Command("zenml stack list", [zenml, "stack", "list"]),
        Command("zenml model-deployer models list", [zenml, "model-deployer", "models", "list"]),
    ]


def slowest_imports(command: Sequence[str], env: Dict[str, str], cwd: Path, top: int = 8) -> List[tuple]:
    """(cumulative µs, module) of the slowest top-level imports, from `python -X importtime`."""
    result = subprocess.run([command[0], "-X", "importtime", *command[1:]], env=env, cwd=cwd, capture_output=True,
                            text=True, timeout=600)
    found = []
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if match and len(match.group(2)) <= 1:  # top-level imports only: nested ones are inside these
            found.append((int(match.group(1)), match.group(3)))
    return sorted(found, reverse=True)[:top]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--project", type=Path, default=PROJECT_ROOT, help="checkout whose run.py is measured")
    parser.add_argument("--importtime", action="store_true", help="list the slowest imports of the run.py commands")
    args = parser.parse_args(argv)
    project = args.project.resolve()

    from training import isolated_env  # the same isolation as the training benchmark

    state_root = Path(tempfile.mkdtemp(prefix="mlops-bench-cli-"))
    env = isolated_env(state_root, project)
    env["PYTHONPATH"] = str(project)  # `zenml model-deployer` loads the project's deployer flavor
    env["COLUMNS"] = "200"
    print(machine_note(), flush=True)
    try:
        check(measure([PYTHON, str(project / "run.py"), "stack", "use", "local"], env=env, cwd=project),
              "run.py stack use local")  # first use: store, repository, flavors, stack; records the active stack
        seed_deployment(Path(env["MLOPS_STATE_DIR"]))
        cmds = commands(project, RecordedStack(env, project))
        runs: Dict[str, List[Measurement]] = {c.name: [] for c in cmds}
        for round_ in range(args.repeat + 1):  # round 0 is an unmeasured warm-up (OS file cache, bytecode)
            for cmd in cmds:
                if cmd.before:
                    cmd.before()
                m = check(measure(cmd.argv, env=env, cwd=project, sample_every_s=0.02), cmd.name)
                if round_:
                    runs[cmd.name].append(m)
            print(f"  round {round_}/{args.repeat} done, load average {os.getloadavg()[0]:.1f}", flush=True)
        print()
        report(runs)
        if args.importtime:
            for cmd in cmds:
                if not cmd.name.startswith("python run.py") or "--help" in cmd.argv:
                    continue
                if cmd.before:
                    cmd.before()
                imports = slowest_imports(cmd.argv, env, project)
                print(f"\nSlowest top-level imports of `{cmd.name}` (cumulative ms, one run):\n")
                print(markdown_table(["module", "ms"], [[m, f"{us / 1000:.1f}"] for us, m in imports]))
    finally:
        shutil.rmtree(state_root, ignore_errors=True)
    return 0


def report(runs: Dict[str, List[Measurement]]) -> None:
    rows, medians = [], {}
    for name, ms in runs.items():
        wall, cpu = summary([m.wall_s for m in ms]), summary([m.cpu_s for m in ms])
        medians[name] = wall["median"]
        loads = [m.load_before for m in ms]
        rows.append([f"`{name}`", f"{wall['median']:.2f}", f"{wall['min']:.2f}", f"{wall['max']:.2f}",
                     f"{cpu['median']:.2f}", f"{max(m.peak_rss_largest for m in ms) / 2**20:.0f}",
                     f"{min(loads):.1f}-{max(loads):.1f}"])
    print(markdown_table(["command", "median s", "min s", "max s", "median CPU s", "peak RSS MiB", "load avg"], rows))
    print()
    for name, target in TARGETS.items():
        verdict = "MET" if medians[name] <= target else "MISSED"
        print(f"`{name}`: median {medians[name]:.2f} s (target <= {target} s): {verdict}")
    pairs = [("python run.py deployments", "zenml model-deployer models list"),
             ("python run.py deployments", "python run.py deployments (no record: ZenML path)"),
             ("python run.py stack list", "zenml stack list")]
    for ours, theirs in pairs:
        print(f"`{ours}` is {medians[theirs] / medians[ours]:.1f}x faster than `{theirs}`")


if __name__ == "__main__":
    sys.exit(main())
