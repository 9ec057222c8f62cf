"""The server stack for real: PostgreSQL, the MLflow server and the ZenML server come up, a training run lands in
both servers, credentials leak nowhere, `use` stays in step with `zenml stack set`, and `down` stops everything."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import requests

from core import process
from stacks.services.process import port_open
from tests.stacks.service_env import PROJECT_ROOT, sandbox

pytestmark = pytest.mark.integration

# Runs inside the sandbox (client connected to the ZenML server) and reports what landed where.
EVIDENCE = r'''
import json, os
import mlflow, psycopg2, requests
from zenml.client import Client

client = Client()
store = client.zen_store.config
run = client.list_pipeline_runs(sort_by="desc:created", size=1).items[0]
creds = client.get_secret("server_stack_mlflow").secret_values
db = client.get_secret("server_stack_postgres").secret_values
tracker = client.active_stack.experiment_tracker.config
uri = "http://127.0.0.1:" + os.environ["MLOPS_SERVER_MLFLOW_PORT"]
os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = creds["username"], creds["password"]
ml = mlflow.MlflowClient(tracking_uri=uri)
experiment = ml.get_experiment_by_name("churn-classifier-training")
ml_runs = ml.search_runs([experiment.experiment_id], filter_string=f"tags.mlflow.runName = '{run.name}'")
versions = ml.search_model_versions("name = 'churn-classifier'")
conn = psycopg2.connect(host="127.0.0.1", port=int(os.environ["MLOPS_SERVER_POSTGRESQL_PORT"]), user=db["username"],
                        password=db["password"], dbname="mlflow")
with conn.cursor() as cur:
    cur.execute("SELECT artifact_uri FROM runs WHERE run_uuid = %s", (ml_runs[0].info.run_id,))
    pg_row = cur.fetchone()
conn.close()
print(json.dumps({
    "store_type": str(store.type.value), "store_url": store.url, "run_name": run.name,
    "run_status": str(run.status.value), "run_stack": run.stack.name if run.stack else None,
    "tracker_config": {k: v for k, v in tracker.model_dump().items() if k.startswith("tracking_")},
    "mlflow_runs": len(ml_runs), "model_versions": len(versions), "pg_artifact_uri": pg_row[0] if pg_row else None,
    "unauthenticated_status": requests.get(uri + "/api/2.0/mlflow/experiments/search?max_results=1").status_code,
    "secrets": [creds["password"], db["password"]],
}))
'''


@pytest.fixture
def box():
    yield from sandbox()


def _leaks(secrets: list[str], places: dict[str, str]) -> list[str]:
    """Names of the places that contain any secret value (never the value itself, so failures do not print it)."""
    return [name for name, text in places.items() if any(s in text for s in secrets)]


def _cmdline(pid_file: Path) -> str:
    return " ".join(process.load(pid_file).argv)


def zenml_server_token(box, url: str) -> str:
    """Logs in as the dashboard user with the password `stack up` generated (as a browser would)."""
    password = (box.state / "services" / "zenml" / "dashboard-password").read_text().strip()
    response = requests.post(f"{url}/api/v1/login", data={"username": "default", "password": password}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def test_server_stack_round_trip(box) -> None:
    up = box.stacks("stack", "up", "server", timeout=400)
    assert "stack 'server' is up and active" in up.stdout
    show = box.stacks("stack", "show", "server").stdout
    for service, port in box.ports.items():
        assert f"{service}: running on 127.0.0.1:{port}" in show, show
    assert "ready to use" in show

    train = box.run("run.py", "train", "--stack", "server", "--config", str(box.small_training_config()), timeout=900)
    assert ": completed" in train.stdout, train.stdout[-2000:]

    facts = json.loads(box.python(EVIDENCE).strip().splitlines()[-1])
    box.outputs.pop()  # the evidence output holds the secrets themselves
    zenml_url = f"http://127.0.0.1:{box.ports['zenml']}"
    assert (facts["store_type"], facts["store_url"]) == ("rest", zenml_url)
    assert (facts["run_status"], facts["run_stack"]) == ("completed", "server")
    assert facts["mlflow_runs"] == 1 and facts["model_versions"] >= 1
    assert facts["pg_artifact_uri"].startswith("mlflow-artifacts:/"), facts["pg_artifact_uri"]  # proxied
    assert any((box.state / "services" / "mlflow" / "artifacts").rglob("MLmodel"))
    assert facts["unauthenticated_status"] == 401
    assert facts["tracker_config"]["tracking_password"] == "{{server_stack_mlflow.password}}"

    secrets = facts["secrets"]
    assert requests.get(f"{zenml_url}/api/v1/secrets", timeout=10).status_code == 401  # no login, no secrets
    token = zenml_server_token(box, zenml_url)
    components = requests.get(f"{zenml_url}/api/v1/components", params={"hydrate": True, "size": 100}, timeout=10,
                              headers={"Authorization": f"Bearer {token}"})
    assert components.status_code == 200
    places = {f"command output {i}": text for i, text in enumerate(box.outputs)}
    places.update({f"log {p.name}": p.read_text(errors="replace") for p in (box.state / "services").glob("*.log")})
    places.update({f"cmdline {p.stem}": _cmdline(p) for p in (box.state / "services").glob("*.pid")})
    places["stacks/server.yaml"] = (PROJECT_ROOT / "stacks" / "server.yaml").read_text()
    places["dashboard API /components"] = components.text
    places.update({f"file {p.name}": p.read_text(errors="replace")
                   for p in (box.state / "services" / "mlflow").glob("*.ini")})
    assert not _leaks(secrets, places)

    # `use` and `zenml stack set` move the same pointer.
    assert "active stack: local" in box.stacks("stack", "use", "local").stdout
    box.run(str(Path(sys.executable).with_name("zenml")), "stack", "set", "server")
    assert "* server" in box.stacks("stack", "list").stdout

    down = box.stacks("stack", "down", "server", timeout=120).stdout
    assert "stopped: zenml, mlflow, postgresql" in down, down
    assert not any(port_open(port) for port in box.ports.values())
    assert not list((box.state / "services").glob("*.pid"))
    assert "switching to the local stack" in down
    assert "* local" in box.stacks("stack", "list").stdout  # the client is back on its own store


def test_use_server_before_up_names_what_is_missing(box) -> None:
    result = box.stacks("stack", "use", "server", check=False)
    assert result.returncode == 1
    for service in ("postgresql", "mlflow", "zenml"):
        assert f"service '{service}' is stopped: start it with `python run.py stack up server`" in result.stderr
    assert "ZenML secret 'server_stack_mlflow'" in result.stderr
    assert "Traceback" not in result.stderr
