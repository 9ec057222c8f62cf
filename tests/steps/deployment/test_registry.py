"""The deployment stage's view of a real MLflow registry (SQLite store): fail closed, retire on rollback, atomic
downloads. Models are logged and registered with the training stage's own function."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from steps.deployment.registry import (
    COMPLETE_MARKER,
    RegistryError,
    RegistryUnavailableError,
    by_alias,
    download_model,
    promote,
    require_challenger,
    roll_back,
)

NAME = "registry-test-model"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A SQLite MLflow store holding NAME v1..v3 (v3 the challenger) and its tracking URI."""
    import mlflow
    from sklearn.linear_model import LogisticRegression

    from steps.training.tracking import log_model_and_register

    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = mlflow.MlflowClient(uri)
    experiment = client.create_experiment("registry-test", artifact_location=(root / "artifacts").as_uri())
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    y = (X["a"] > 0).astype(int)
    for _ in range(3):
        with mlflow.start_run(experiment_id=experiment):
            log_model_and_register(LogisticRegression().fit(X, y), X.head(5), "binary", NAME, {"zenml_run_id": ""})
    return uri


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block exits: nothing listens there


@pytest.fixture()
def unreachable(monkeypatch):
    """A server-stack style tracking URI whose MLflow is stopped (fast failure: no retries)."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    return f"http://admin:secret@127.0.0.1:{_closed_port()}"


def test_absent_model_or_alias_means_no_alias(registry):
    assert by_alias("no-such-model", "champion", registry) is None
    assert by_alias(NAME, "no-such-alias", registry) is None
    assert by_alias(NAME, "challenger", registry).version == "3"


def test_unreachable_mlflow_is_an_error_not_no_champion(unreachable):
    with pytest.raises(RegistryUnavailableError) as err:
        by_alias(NAME, "champion", unreachable)
    message = str(err.value)
    assert "127.0.0.1" in message and "champion keeps serving" in message
    assert "secret" not in message  # credentials in the URI are not echoed
    with pytest.raises(RegistryUnavailableError):
        require_challenger(NAME, unreachable)
    with pytest.raises(RegistryUnavailableError, match="may already serve"):  # promote runs after the switch
        promote(NAME, "1", unreachable)


def test_damaged_store_is_an_error_not_no_champion(tmp_path):
    db = tmp_path / "mlflow.db"
    db.write_bytes(b"this is not a SQLite database" * 100)
    with pytest.raises(RegistryUnavailableError, match="mlflow.db"):
        by_alias(NAME, "champion", f"sqlite:///{db}")


def test_rollback_retires_the_version_rolled_away_from(registry):
    import mlflow

    client = mlflow.MlflowClient(registry, registry_uri=registry)
    promote(NAME, "2", registry)
    promote(NAME, "3", registry)  # v3: challenger and champion; v2: previous champion
    assert roll_back(NAME, "2", registry) == "3"
    assert by_alias(NAME, "champion", registry).version == "2"
    assert by_alias(NAME, "challenger", registry) is None  # a plain deploy cannot bring v3 back
    assert client.get_model_version(NAME, "3").tags["deployment_status"] == "rolled-back"
    with pytest.raises(RegistryError, match="no 'challenger'"):
        require_challenger(NAME, registry)
    # a newer challenger trained meanwhile is not the rolled-back version: it keeps its alias
    client.set_registered_model_alias(NAME, "challenger", "1")
    promote(NAME, "3", registry)
    roll_back(NAME, "2", registry)
    assert by_alias(NAME, "challenger", registry).version == "1"


def test_a_half_downloaded_model_folder_is_not_reused(registry, tmp_path):
    ref = by_alias(NAME, "challenger", registry)
    half = tmp_path / ref.name / ref.version
    half.mkdir(parents=True)
    (half / "MLmodel").write_text("artifact_path: model\n")  # what a download killed half-way leaves
    abandoned = tmp_path / ref.name / f".{ref.version}.download-killed"  # a staging folder of a killed download
    abandoned.mkdir()
    os.utime(abandoned, (time.time() - 7200, time.time() - 7200))
    model_dir = download_model(ref, tmp_path, registry)
    assert model_dir == half and (model_dir / "model.skops").stat().st_size > 0
    assert (model_dir / COMPLETE_MARKER).is_file()
    assert sorted(p.name for p in (tmp_path / ref.name).iterdir()) == [ref.version]  # no staging folders left


def test_download_lands_complete_or_not_at_all(registry, tmp_path, unreachable):
    ref = by_alias(NAME, "challenger", registry)
    with pytest.raises(RegistryUnavailableError):
        download_model(ref, tmp_path, unreachable)
    assert not list((tmp_path / ref.name).iterdir())  # nothing half-written in place
    first = download_model(ref, tmp_path, registry)
    stamp = (first / COMPLETE_MARKER).stat().st_mtime_ns
    assert download_model(ref, tmp_path, registry) == first  # a complete download is reused as it is
    assert (first / COMPLETE_MARKER).stat().st_mtime_ns == stamp
    assert isinstance(first, Path)
