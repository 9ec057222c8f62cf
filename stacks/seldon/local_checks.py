"""What a local candidate must pass before it takes traffic, and where its model comes from.

1. it turns healthy (`/health/status` answers 200: every worker loaded the model);
2. it scores the model's own MLflow input example with HTTP 200;
3. the caller's `verify(url)` (e.g. endpoint/offline parity on holdout rows) returns without raising.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Dict, Optional

from core.process import Identity
from stacks.seldon import local_process
from stacks.seldon.spec import DeploymentError

PREDICT_PATH = "/api/v1.0/predictions"
HEALTH_PATH = "/health/status"
DAEMON_MARKER = "serving.launch"  # in every model daemon's (and its supervisor's) command line


def local_model_dir(model_uri: str) -> Path:
    """The local directory behind `model_uri`; the local backend cannot fetch object-store URIs itself."""
    if "://" in model_uri and not model_uri.startswith("file://"):
        raise DeploymentError(f"the local backend serves local model directories, got {model_uri!r}: download it first")
    path = Path(model_uri.removeprefix("file://")).expanduser().resolve()
    if not (path / "MLmodel").is_file():
        raise DeploymentError(f"no MLflow model at {path} (MLmodel not found)")
    return path


def seldon_example(model_dir: Path) -> Optional[Dict[str, Any]]:
    """The MLflow input example as a Seldon request ({"data": {"names", "ndarray"}})."""
    path = model_dir / "input_example.json"
    if not path.is_file():
        return None
    example = json.loads(path.read_text())
    if "columns" not in example:
        return None
    return {"data": {"names": example["columns"], "ndarray": example["data"]}}


def check_candidate(host: str, candidate: Dict[str, Any], model_dir: Path, timeout: float,
                    verify: Optional[Callable[[str], None]]) -> None:
    """Run the three checks on a started candidate; raise (any exception) on the first that fails."""
    base = f"http://{host}:{candidate['http_port']}"
    local_process.wait_healthy(base + HEALTH_PATH, Identity.from_dict(candidate["identity"]), timeout)
    example = seldon_example(model_dir)
    if example is not None:
        status, body = local_process.http_post_json(base + PREDICT_PATH, json.dumps(example).encode())
        if status != 200:
            raise RuntimeError(f"scoring the model's own input example gave HTTP {status}: {body[:300]!r}")
    if verify is not None:
        verify(candidate["url"])
