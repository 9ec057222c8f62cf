"""Helpers for tests that run real services: each test gets its own ZenML config, run-state directory and free
ports, drives the CLI in subprocesses (the ZenML client connects to a server there, never in the test process),
and stops every process it started, by process group, even when it fails."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, Iterator, List

import yaml

from core import process
from stacks.services.process import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Sandbox:
    """An isolated ZenML + run-state environment for subprocesses."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = root / "state"
        self.zenml_config = root / "zenml-config"
        self.ports = {"postgresql": free_port(), "mlflow": free_port(), "zenml": free_port()}
        (root / "repo").mkdir(parents=True, exist_ok=True)
        self.env: Dict[str, str] = {
            **os.environ,
            "ZENML_CONFIG_PATH": str(self.zenml_config),
            "ZENML_REPOSITORY_PATH": str(root / "repo"),
            "MLOPS_STATE_DIR": str(self.state),
            "ZENML_ANALYTICS_OPT_IN": "false",
            "ZENML_CUSTOM_SOURCE_ROOT": str(PROJECT_ROOT),
            "WHYLOGS_NO_ANALYTICS": "1",
            **{f"MLOPS_SERVER_{name.upper()}_PORT": str(port) for name, port in self.ports.items()},
        }
        self.env.pop("MLFLOW_TRACKING_URI", None)  # the session's stray-run guard; the stacks bring their trackers
        self.outputs: List[str] = []

    def run(self, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
        """Runs `python <args>` in the project root with the sandbox environment; keeps stdout+stderr."""
        proc = subprocess.run([sys.executable, *args], cwd=PROJECT_ROOT, env=self.env, capture_output=True,
                              text=True, timeout=timeout, check=False)
        self.outputs.append(proc.stdout + proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(f"`python {' '.join(args)}` exited {proc.returncode}:\n{proc.stdout[-4000:]}\n"
                                 f"{proc.stderr[-4000:]}")
        return proc

    def stacks(self, *args: str, **kwargs) -> subprocess.CompletedProcess:  # noqa: ANN003
        """`python run.py <args>` for the stack and dashboard commands."""
        return self.run("run.py", *args, **kwargs)

    def small_training_config(self) -> Path:
        """configs/training.yaml with 600 rows and no hyper-parameter search: a run in about a minute."""
        raw = yaml.safe_load((PROJECT_ROOT / "configs" / "training.yaml").read_text())
        raw["data"]["n_rows"] = 600
        raw["training"]["search"]["space"] = {}
        path = self.root / "training-small.yaml"
        path.write_text(yaml.safe_dump(raw))
        return path

    def python(self, code: str, timeout: float = 300) -> str:
        """Runs a Python snippet (as a file, so ZenML finds a source root) in the sandbox; returns stdout."""
        script = self.root / "snippet.py"
        script.write_text(code)
        return self.run(str(script), timeout=timeout).stdout

    def stop_everything(self) -> None:
        """`stack down server`, then kill whatever a pid file still names (process group, identity checked)."""
        try:
            self.stacks("stack", "down", "server", timeout=120, check=False)
        except subprocess.TimeoutExpired:
            pass
        pid_files = list((self.state / "services").glob("*.pid")) if (self.state / "services").is_dir() else []
        for pid_file in pid_files:
            process.stop(process.load(pid_file), grace=0.0, sig=signal.SIGKILL)


def sandbox() -> Iterator[Sandbox]:
    """Yields a Sandbox in a fresh directory that PostgreSQL's `postgres` user can traverse when we run as root."""
    root = Path(tempfile.mkdtemp(prefix="mlops-stack-test-"))
    root.chmod(0o711)
    box = Sandbox(root)
    try:
        yield box
    finally:
        box.stop_everything()
        shutil.rmtree(root, ignore_errors=True)
