"""Pinned environments for test tools whose dependencies would clash with the project's lock (e.g. checkov).

Each tool has `tests/tools/<name>-requirements.in` (what we ask for) and `<name>-requirements.txt` (compiled with
hashes by `uv pip compile --generate-hashes`, committed). The environment is built once per pin set in
`<root>/<name>-<hash of the pins>`, root $MLOPS_TOOL_ENV_DIR or the project's ignored `.state/tool-envs`; a finished
one has a marker file, a half-built one is removed and rebuilt. A lock file serializes concurrent builds.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

TOOLS_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = TOOLS_DIR.parent.parent
ROOT_ENV = "MLOPS_TOOL_ENV_DIR"
PYTHON_VERSION = "3.11"
MARKER = ".complete"


class ToolEnvError(RuntimeError):
    """A tool environment could not be built."""


def requirements(name: str) -> Path:
    return TOOLS_DIR / f"{name}-requirements.txt"


def env_dir(name: str) -> Path:
    pins = requirements(name)
    if not pins.is_file():
        raise ToolEnvError(f"{pins} not found: compile it from {pins.with_suffix('.in').name} with "
                           f"`uv pip compile --generate-hashes -p {PYTHON_VERSION}`")
    digest = hashlib.sha256(pins.read_bytes()).hexdigest()[:16]
    root = Path(os.environ.get(ROOT_ENV) or PROJECT_ROOT / ".state" / "tool-envs")
    return root / f"{name}-{digest}"


def _uv() -> str:
    beside_python = Path(sys.executable).parent / "uv"
    found = str(beside_python) if beside_python.exists() else shutil.which("uv")
    if not found:
        raise ToolEnvError("uv not found next to the interpreter or on PATH; run `make setup`")
    return found


def _run(cmd: list, what: str, timeout: float) -> None:
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.strip().splitlines()[-15:])
        raise ToolEnvError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")


def ensure_tool_env(name: str, timeout: float = 900.0) -> Path:
    """The bin/ directory of the pinned environment for tool `name`, built first if needed."""
    target = env_dir(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second test session waits instead of building over the first
        if (target / MARKER).is_file():
            return target / "bin"
        shutil.rmtree(target, ignore_errors=True)  # a half-built one from an interrupted build
        uv = _uv()
        try:
            _run([uv, "venv", "--quiet", "--python", PYTHON_VERSION, str(target)], "create venv", timeout)
            _run([uv, "pip", "sync", "--quiet", "--require-hashes", "--python", str(target / "bin" / "python"),
                  str(requirements(name))], f"install {name} pins", timeout)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        (target / MARKER).write_text(requirements(name).read_text())
        return target / "bin"
