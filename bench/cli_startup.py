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

With `--pipelines` the state also gets a trained and deployed model (`run.py all --rows 5000`, a real local Seldon
endpoint; the listing then shows that deployment instead of a seeded stopped one), and the round-robin adds:

- `run.py predict --data features.csv` (10k rows) through the endpoint: from the recorded stack, and with the
  record removed (the full ZenML path); target <= 3 s;
- `run.py monitor --data batch.csv` (10k labelled rows, no drift: no retraining), target <= 10 s, beside a trivial
  ZenML pipeline with as many steps (bench/trivial_pipeline.py, uncached): ZenML's own floor on the same stack;
- `run.py train` all-cached rerun, target <= 5 s, beside the trivial pipeline with as many steps, all-cached.

    python bench/cli_startup.py --repeat 5
    python bench/cli_startup.py --repeat 5 --importtime   # also: the slowest imports of each run.py command
    python bench/cli_startup.py --repeat 5 --pipelines    # also predict, monitor, train (~8 min on 2 quiet CPUs)

Set MLOPS_SERVING_ENV_DIR to a built serving environment (the project's .state/serving-env is used when it
exists) or the first deploy builds one.
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
PIPELINE_TARGETS = {"python run.py predict --data features.csv (10k rows, endpoint)": 3.0,
                    "python run.py monitor --data batch.csv (10k rows)": 10.0,
                    "python run.py train (all-cached rerun)": 5.0}
MONITORING_STEPS, TRAINING_STEPS = 12, 10  # steps of the monitoring (batch) and training pipelines


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

    def current(self) -> None:
        """A current record: as the last run.py command left it (they re-record at exit), else recorded again by an
        untimed `run.py stack use local` (the trivial ZenML pipeline writes the store without recording)."""
        code = "from stacks.fast_paths import current_record; print(current_record() is not None)"

        def is_current() -> bool:
            return subprocess.run([PYTHON, "-c", code], env=self.env, cwd=self.project, capture_output=True,
                                  text=True, check=True).stdout.strip() == "True"

        if not is_current():
            subprocess.run([PYTHON, str(self.project / "run.py"), "stack", "use", "local"], env=self.env,
                           cwd=self.project, capture_output=True, check=True)
        if not is_current():
            raise RuntimeError("no current record of the active stack: the fast-path figure would be the slow path")


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


def round_robin(cmds: List[Command], repeat: int, env: Dict[str, str], project: Path) -> Dict[str, List[Measurement]]:
    """Each round runs every command once; round 0 is an unmeasured warm-up (OS file cache, bytecode)."""
    runs: Dict[str, List[Measurement]] = {c.name: [] for c in cmds}
    for round_ in range(repeat + 1):
        for cmd in cmds:
            if cmd.before:
                cmd.before()
            m = check(measure(cmd.argv, env=env, cwd=project, sample_every_s=0.02), cmd.name)
            if round_:
                runs[cmd.name].append(m)
        print(f"  round {round_}/{repeat} done, load average {os.getloadavg()[0]:.1f}", flush=True)
    return runs


def pipeline_commands(project: Path, record: RecordedStack, data: Dict[str, Path]) -> List[Command]:
    run, bench = [PYTHON, str(project / "run.py")], Path(__file__).resolve().parent
    trivial = [PYTHON, str(bench / "trivial_pipeline.py"), "--steps"]
    return [
        Command("python run.py predict --data features.csv (10k rows, endpoint)",
                [*run, "predict", "--data", str(data["features"]), "--out", str(data["out"])], record.current),
        Command("python run.py predict --data features.csv (no record: ZenML path)",
                [*run, "predict", "--data", str(data["features"]), "--out", str(data["out"])], record.remove),
        Command("python run.py monitor --data batch.csv (10k rows)", [*run, "monitor", "--data", str(data["batch"])]),
        Command(f"trivial {MONITORING_STEPS}-step ZenML pipeline (uncached)",
                [*trivial, str(MONITORING_STEPS), "--no-cache"]),
        Command("python run.py train (all-cached rerun)", [*run, "train"]),
        Command(f"trivial {TRAINING_STEPS}-step ZenML pipeline (all-cached)", [*trivial, str(TRAINING_STEPS)]),
    ]


def prepare_pipelines(project: Path, env: Dict[str, str], state_root: Path) -> Dict[str, Path]:
    """Trains and deploys the demo model in the benchmark's state; writes the 10k-row files; fills the caches."""
    code = ("import sys; from steps.data.generator import generate_batch; f = generate_batch(10000, seed=3); "
            "f.to_csv(sys.argv[1], index=False); f.drop(columns=['churned']).to_csv(sys.argv[2], index=False)")
    data = {"batch": state_root / "batch.csv", "features": state_root / "features.csv", "out": state_root / "out.csv"}
    subprocess.run([PYTHON, "-c", code, str(data["batch"]), str(data["features"])], env=env, cwd=project, check=True)
    run = [PYTHON, str(project / "run.py")]
    check(measure([*run, "all", "--rows", "5000"], env=env, cwd=project), "run.py all (train and deploy)")
    check(measure([*run, "train", "--rows", "5000"], env=env, cwd=project), "run.py train (cached)")
    for steps in (MONITORING_STEPS, TRAINING_STEPS):  # the all-cached trivial run needs one run before it
        check(measure([PYTHON, str(Path(__file__).resolve().parent / "trivial_pipeline.py"), "--steps", str(steps)],
                      env=env, cwd=project), "trivial pipeline")
    return data


def stop_deployments(project: Path, env: Dict[str, str]) -> None:
    code = ("from steps.deployment.rollout import active_deployer\n"
            "for d in active_deployer().list_deployments(): active_deployer().delete(d.name)")
    subprocess.run([PYTHON, "-c", code], env=env, cwd=project, capture_output=True, timeout=300)


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
    parser.add_argument("--pipelines", action="store_true",
                        help="also predict through an endpoint, monitor a batch and an all-cached train rerun")
    args = parser.parse_args(argv)
    project = args.project.resolve()

    from training import isolated_env  # the same isolation as the training benchmark

    state_root = Path(tempfile.mkdtemp(prefix="mlops-bench-cli-"))
    env = isolated_env(state_root, project)
    env["PYTHONPATH"] = str(project)  # `zenml model-deployer` loads the project's deployer flavor
    env["COLUMNS"] = "200"
    serving_env = PROJECT_ROOT / ".state" / "serving-env"
    if "MLOPS_SERVING_ENV_DIR" not in env and serving_env.is_dir():
        env["MLOPS_SERVING_ENV_DIR"] = str(serving_env)
    print(machine_note(), flush=True)
    try:
        check(measure([PYTHON, str(project / "run.py"), "stack", "use", "local"], env=env, cwd=project),
              "run.py stack use local")  # first use: store, repository, flavors, stack; records the active stack
        data = prepare_pipelines(project, env, state_root) if args.pipelines else None
        if data is None:
            seed_deployment(Path(env["MLOPS_STATE_DIR"]))
        else:
            check(measure([PYTHON, str(project / "run.py"), "stack", "use", "local"], env=env, cwd=project),
                  "run.py stack use local")  # records the store as the deployment left it
        record = RecordedStack(env, project)
        cmds = commands(project, record)
        runs = round_robin(cmds, args.repeat, env, project)
        if data:  # after the read-only commands: every pipeline run writes the store, which a `stack list` record keys on
            piped = pipeline_commands(project, record, data)
            runs.update(round_robin(piped, args.repeat, env, project))
            cmds += piped
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
        if args.pipelines:
            stop_deployments(project, env)
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
    for name, target in {**TARGETS, **PIPELINE_TARGETS}.items():
        if name not in medians:
            continue
        verdict = "MET" if medians[name] <= target else "MISSED"
        print(f"`{name}`: median {medians[name]:.2f} s (target <= {target} s): {verdict}")
    pairs = [("python run.py deployments", "zenml model-deployer models list"),
             ("python run.py deployments", "python run.py deployments (no record: ZenML path)"),
             ("python run.py stack list", "zenml stack list"),
             ("python run.py predict --data features.csv (10k rows, endpoint)",
              "python run.py predict --data features.csv (no record: ZenML path)")]
    for ours, theirs in pairs:
        if ours in medians and theirs in medians:
            print(f"`{ours}` is {medians[theirs] / medians[ours]:.1f}x faster than `{theirs}`")
    floors = [("python run.py monitor --data batch.csv (10k rows)",
               f"trivial {MONITORING_STEPS}-step ZenML pipeline (uncached)"),
              ("python run.py train (all-cached rerun)", f"trivial {TRAINING_STEPS}-step ZenML pipeline (all-cached)")]
    for ours, floor in floors:
        if ours in medians:
            print(f"`{ours}`: {medians[ours]:.2f} s; ZenML's floor for as many steps (`{floor}`): {medians[floor]:.2f} s")


if __name__ == "__main__":
    sys.exit(main())
