"""Build (once) and locate the serving environment, and the command line that starts the microservice.

Called from the main environment by the deployer. The environment lives in `<state dir>/serving-env/<hash of
requirements.txt>`: a change of pins builds a new one, a finished one is reused, and a half-built one (no marker
file) is removed and rebuilt, never used.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from serving.identity import ModelIdentity

from serving import MODEL_CLASS

SERVING_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = SERVING_DIR.parent
REQUIREMENTS = SERVING_DIR / "requirements.txt"
PYTHON_VERSION = "3.11"
MARKER = ".complete"
METRICS_PATH = "/prometheus"  # what Seldon Core uses on Kubernetes
ENV_DIR_ENV = "MLOPS_SERVING_ENV_DIR"  # lets tests share one built environment while isolating the rest of the state


class ServingEnvError(RuntimeError):
    """The serving environment could not be built."""


def _state_dir() -> Path:
    # Imported lazily: only the main environment builds serving environments; the serving image ships serving/ alone.
    from core.state import state_dir

    return state_dir()


def requirements_hash(requirements: Path = REQUIREMENTS) -> str:
    return hashlib.sha256(requirements.read_bytes()).hexdigest()[:16]


def env_dir(root: Optional[Path] = None, requirements: Path = REQUIREMENTS) -> Path:
    """Where the environment for `requirements` lives: <root>/<hash>, root $MLOPS_SERVING_ENV_DIR or the state dir."""
    root = root or Path(os.environ.get(ENV_DIR_ENV) or _state_dir() / "serving-env")
    return root / requirements_hash(requirements)


def _uv() -> Optional[str]:
    beside_python = Path(sys.executable).parent / "uv"
    return str(beside_python) if beside_python.exists() else shutil.which("uv")


def _run(cmd: Sequence[str], log: Callable[[str], None], what: str) -> None:
    log(f"serving env: {what}: {' '.join(cmd)}")
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.strip().splitlines()[-15:])
        raise ServingEnvError(f"could not build the serving environment ({what} exited {proc.returncode}):\n{tail}")


def ensure_serving_env(
    log: Callable[[str], None] = print, root: Optional[Path] = None, requirements: Path = REQUIREMENTS
) -> Path:
    """Return the serving environment's python, building the environment first if needed (prints progress)."""
    if not requirements.is_file():
        raise ServingEnvError(f"serving requirements not found: {requirements}")
    target = env_dir(root, requirements)
    python = target / "bin" / "python"
    if (target / MARKER).is_file() and python.exists():
        return python
    if target.exists():
        log(f"serving env: removing incomplete environment {target}")
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    shown = requirements.relative_to(PROJECT_ROOT) if requirements.is_relative_to(PROJECT_ROOT) else requirements
    log(f"serving env: building {target} from {shown} (first deploy only)")
    uv = _uv()
    try:
        if uv:
            _run([uv, "venv", "--quiet", "--python", PYTHON_VERSION, str(target)], log, "create venv")
            _run([uv, "pip", "sync", "--quiet", "--compile-bytecode", "--python", str(python), str(requirements)],
                 log, "install pins")
        else:
            _run([sys.executable, "-m", "venv", str(target)], log, "create venv")
            _run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "-r", str(requirements)], log,
                 "install pins")
        imports = "import seldon_core.microservice, seldon_core.wrapper, sklearn, skops.io, whylogs"
        _run([str(python), "-c", imports], log, "check imports")
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    (target / MARKER).write_text(json.dumps({"requirements": str(requirements), "hash": target.name}))
    log(f"serving env: ready at {target}")
    return python


RECORDING_SETTINGS = ("SERVING_RECORD_", "SERVING_PREDICTION_LOG_")


def model_parameters(**values: str) -> str:
    """Seldon's --parameters JSON: every model class argument as a STRING parameter."""
    return json.dumps([{"name": k, "value": str(v), "type": "STRING"} for k, v in values.items()])


def microservice_command(
    python: Path,
    *,
    model: ModelIdentity,
    http_port: int,
    metrics_port: int,
    workers: int = 1,
    threads: int = 1,
    host: str = "127.0.0.1",
    grpc: bool = False,
    deployment_name: str = "",
    unix_socket: str = "",
    metrics_unix_socket: str = "",
    record_dir: str = "",
) -> Tuple[List[str], Dict[str, str]]:
    """argv and environment that run the Seldon microservice for one model; gRPC stays off unless asked; with
    `record_dir` the endpoint profiles what it serves there (serving/recorder.py)."""
    params = model_parameters(model_uri=model.uri, **model.parameters())
    argv = [
        str(python), "-m", "serving.launch", MODEL_CLASS,
        "--service-type", "MODEL",
        "--http-port", str(http_port),
        "--metrics-port", str(metrics_port),
        "--workers", str(workers),
        "--threads", str(threads),
        "--parameters", params,
        # Seldon starts a gRPC server unless told 0 workers; it holds shutdown and is not used locally.
        "--grpc-workers", "1" if grpc else "0",
    ]
    # Only what the microservice needs: the caller's own variables (tracking credentials among them) stay out;
    # core.process.spawn adds the harmless basics (PATH, HOME, locale).
    env = {
        "PYTHONPATH": str(PROJECT_ROOT),
        "SERVING_BIND_HOST": host,
        "SERVING_UNIX_SOCKET": unix_socket,
        "SERVING_METRICS_UNIX_SOCKET": metrics_unix_socket,
        "PREDICTIVE_UNIT_METRICS_ENDPOINT": METRICS_PATH,
        # Custom metrics travel in each response's meta; strip them before the client sees the response.
        "INCLUDE_METRICS_IN_CLIENT_RESPONSE": "false",
        "PREDICTIVE_UNIT_ID": model.name or "model",
        "SELDON_DEPLOYMENT_ID": deployment_name or model.name or "model",
        "PREDICTOR_ID": "default",
        "PREDICTIVE_UNIT_IMAGE": f"local/{model.name or 'model'}:{model.version or '0'}",
        # One BLAS/OpenMP thread per worker: workers already use every core, nested threads only contend.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONUNBUFFERED": "1",
        "SERVING_RECORD_DIR": record_dir,
    }
    # The recording settings (serving/recorder.py) are the operator's to tune in the deployer's environment; the
    # daemon gets a minimal environment (core.process), so they are handed on by name. They hold no credentials.
    env.update({k: v for k, v in os.environ.items() if k.startswith(RECORDING_SETTINGS) and k not in env})
    return argv, env
