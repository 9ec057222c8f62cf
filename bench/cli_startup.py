#!/usr/bin/env python
"""CLI start-up: `python run.py --help` beside ZenML's own CLI (`zenml --help`, `zenml stack list`).

Each command runs `--repeat` times as a fresh process (after one unmeasured warm-up run that fills the OS file
cache and writes bytecode); ZenML's store lives in a temporary directory so the user's state is untouched.
Target (issue): `python run.py --help` within 0.5 s.

    python bench/cli_startup.py --repeat 10
    python bench/cli_startup.py --importtime     # also: the slowest imports of `run.py --help`
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PROJECT_ROOT, PYTHON, check, machine_note, markdown_table, measure, summary  # noqa: E402

TARGET_S = 0.5


def commands(project: Path) -> Dict[str, List[str]]:
    zenml = str(Path(PYTHON).with_name("zenml"))
    return {
        "python run.py --help": [PYTHON, str(project / "run.py"), "--help"],
        "python run.py train --help": [PYTHON, str(project / "run.py"), "train", "--help"],
        "zenml --help": [zenml, "--help"],
        "zenml stack list": [zenml, "stack", "list"],
    }


def slowest_imports(command: Sequence[str], env: Dict[str, str], top: int = 12) -> List[tuple]:
    """(cumulative µs, module) of the slowest top-level imports, from `python -X importtime`."""
    result = subprocess.run([command[0], "-X", "importtime", *command[1:]], env=env, capture_output=True,
                            text=True, timeout=120)
    found = []
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if match and len(match.group(2)) <= 1:  # top-level imports only: nested ones are inside these
            found.append((int(match.group(1)), match.group(3)))
    return sorted(found, reverse=True)[:top]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--project", type=Path, default=PROJECT_ROOT, help="checkout whose run.py is measured")
    parser.add_argument("--importtime", action="store_true", help="list the slowest imports of run.py --help")
    args = parser.parse_args(argv)

    from training import isolated_env  # the same isolation as the training benchmark

    state_root = Path(tempfile.mkdtemp(prefix="mlops-bench-cli-"))
    env = isolated_env(state_root, args.project.resolve())
    print(machine_note(), flush=True)
    try:
        rows = []
        timings: Dict[str, Dict[str, float]] = {}
        for name, cmd in commands(args.project).items():
            check(measure(cmd, env=env, cwd=args.project), name)  # warm-up (and first-use initialisation)
            runs = [check(measure(cmd, env=env, cwd=args.project, sample_every_s=0.02), name)
                    for _ in range(args.repeat)]
            stats = summary([m.wall_s for m in runs])
            timings[name] = stats
            rows.append([f"`{name}`", f"{stats['mean']:.3f} ± {stats['stdev']:.3f}", f"{stats['median']:.3f}",
                         f"{stats['min']:.3f}", f"{stats['max']:.3f}",
                         f"{max(m.peak_rss_largest for m in runs) / 2**20:.0f}"])
            print(f"  {name}: median {stats['median']:.3f} s", flush=True)
        print()
        print(markdown_table(["command", "mean ± sd s", "median s", "min s", "max s", "peak RSS MiB"], rows))
        ours = timings["python run.py --help"]["median"]
        verdict = "MET" if ours <= TARGET_S else "MISSED"
        print(f"\n`python run.py --help`: median {ours:.3f} s (target <= {TARGET_S} s): {verdict}; "
              f"{timings['zenml --help']['median'] / ours:.1f}x faster than `zenml --help`, "
              f"{timings['zenml stack list']['median'] / ours:.1f}x faster than `zenml stack list`.")
        if args.importtime:
            print("\nSlowest top-level imports of `python run.py --help` (cumulative ms):\n")
            imports = slowest_imports(commands(args.project)["python run.py --help"], env)
            print(markdown_table(["module", "ms"], [[m, f"{us / 1000:.1f}"] for us, m in imports]))
    finally:
        shutil.rmtree(state_root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
