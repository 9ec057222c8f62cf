"""Test-session isolation: ZenML, MLflow and run state live in a temporary directory, never the user's.

The variables are set at import time, before any test module imports ZenML (its global config is a process-wide
singleton read on first use).
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SESSION_DIR = Path(tempfile.mkdtemp(prefix="mlops-tests-"))

os.environ["ZENML_CONFIG_PATH"] = str(SESSION_DIR / "zenml-config")
os.environ["ZENML_REPOSITORY_PATH"] = str(SESSION_DIR / "repo")
os.environ["MLOPS_STATE_DIR"] = str(SESSION_DIR / "state")
os.environ["ZENML_CUSTOM_SOURCE_ROOT"] = str(PROJECT_ROOT)
os.environ["ZENML_ANALYTICS_OPT_IN"] = "false"
# scikit-learn's OpenMP threads spin against the serving daemons on a small CI machine (a retrain was seen stalled
# for 40 minutes with the default on 2 busy cores); one thread keeps the suite's time predictable.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ["WHYLOGS_NO_ANALYTICS"] = "1"
# The pinned Seldon serving environment takes a minute to build: every test (and every session) shares one, in the
# project's ignored run-state directory; the rest of the state stays per session.
os.environ.setdefault("MLOPS_SERVING_ENV_DIR", str(PROJECT_ROOT / ".state" / "serving-env"))
os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{SESSION_DIR / 'stray-mlflow.db'}"  # never ./mlruns
(SESSION_DIR / "repo").mkdir(parents=True, exist_ok=True)


def pytest_sessionfinish(session, exitstatus):  # noqa: ARG001
    shutil.rmtree(SESSION_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def session_dir() -> Path:
    return SESSION_DIR
