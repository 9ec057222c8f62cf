"""Where the project keeps run state (never committed): ZenML artifacts, MLflow store, serving environments."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STATE_DIR_ENV = "MLOPS_STATE_DIR"


def state_dir() -> Path:
    """The run-state root: $MLOPS_STATE_DIR, or `.state/` in the project root."""
    path = Path(os.environ.get(STATE_DIR_ENV) or PROJECT_ROOT / ".state").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path
