"""The server stack's MLflow: tracking server and model registry on PostgreSQL, proxied artifacts, basic auth.

Clients never see the artifact directory: they upload and download through the server (`mlflow-artifacts:/`).
MLflow's basic-auth app protects the API; the admin credentials are a ZenML secret the experiment tracker
references, and reach the server only through its environment (bootstrap of the admin user).
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import requests

from stacks.services import postgres
from stacks.services.process import HOST, ManagedProcess, ServiceError, services_dir

SECRET = "server_stack_mlflow"
ADMIN = "admin"


def home() -> Path:
    path = services_dir() / "mlflow"
    (path / "artifacts").mkdir(parents=True, exist_ok=True)
    return path


def url(port: int) -> str:
    return f"http://{HOST}:{port}"


def _auth_config(pg_port: int) -> Path:
    """MLflow's auth config: where its user store lives. No password in it (libpq reads PGPASSWORD)."""
    path = home() / "basic_auth.ini"
    path.write_text(
        "[mlflow]\n"
        "default_permission = NO_PERMISSIONS\n"
        f"database_uri = {postgres.uri(pg_port, 'mlflow_auth')}\n"
        f"admin_username = {ADMIN}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        # Every request re-hashes the password (PBKDF2) unless cached; a model registration makes ~100 requests.
        # One worker, so the cache cannot serve a stale password from another process.
        "auth_cache_ttl_seconds = 300\n"
    )
    return path


def process(port: int, pg_port: int, pg_password: str, admin_password: str) -> ManagedProcess:
    """`mlflow server --app-name basic-auth` with every credential passed through the environment."""
    mlflow_bin = str(Path(sys.executable).with_name("mlflow"))
    return ManagedProcess(
        name="mlflow",
        port=port,
        argv=[mlflow_bin, "server", "--app-name", "basic-auth", "--host", HOST, "--port", str(port),
              "--workers", "1", "--serve-artifacts", "--artifacts-destination", str(home() / "artifacts")],
        env={
            "MLFLOW_BACKEND_STORE_URI": postgres.uri(pg_port, "mlflow"),
            **postgres.client_env(pg_password),
            "MLFLOW_AUTH_CONFIG_PATH": str(_auth_config(pg_port)),
            "MLFLOW_AUTH_ADMIN_PASSWORD": admin_password,
            # Only signs CSRF tokens of the server's own HTML forms; a new one per start is enough.
            "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_urlsafe(32),
        },
    )


def healthy(port: int) -> bool:
    try:
        return requests.get(f"{url(port)}/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def start(port: int, pg_port: int, pg_password: str, admin_password: str, say) -> str:  # noqa: ANN001
    """Starts the server unless it runs already; returns its URL."""
    proc = process(port, pg_port, pg_password, admin_password)
    if not proc.running():
        say(f"starting MLflow server on {url(port)} (PostgreSQL metadata, proxied artifacts in {home()})")
    proc.start(ready=lambda: healthy(port), timeout=180)  # the first start creates the schema: slow on 2 cores
    _check_login(port, admin_password)
    return url(port)


def _check_login(port: int, password: str) -> None:
    """MLflow keeps the admin password it was first started with; a regenerated secret would fail every run."""
    response = requests.get(f"{url(port)}/api/2.0/mlflow/users/get", params={"username": ADMIN},
                            auth=(ADMIN, password), timeout=10)
    if response.status_code == 401:
        raise ServiceError(
            f"MLflow at {url(port)} rejects the credentials of ZenML secret '{SECRET}' (was the secret deleted or "
            f"changed?): restore it, or stop the stack and remove {home()} and the PostgreSQL data to start empty"
        )
    response.raise_for_status()
