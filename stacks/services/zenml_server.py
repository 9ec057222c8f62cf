"""The server stack's ZenML server and dashboard, with authentication.

ZenML's own local daemon (`zenml login --local`) runs without authentication (NO_AUTH), so anyone on the machine
could read every secret from its REST API. We run the same server app ourselves, through core.process, with
ZenML's OAuth2 password scheme:
- the dashboard user `default` (the local store's admin) gets a generated password;
- the CLI and pipeline runs use a service account's API key;
- both, and the server's token-signing key, live in files under the run-state folder readable only by their owner
  (0600, in a 0700 folder), never in logs or command lines.
The server uses the same SQLite store as the client without a server, so stacks, runs and secrets are the same on
both sides: connecting or disconnecting the client changes the path, never the data.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import Optional

import requests

from core import process
from stacks.services.process import HOST, ManagedProcess, ServiceError, port_open, services_dir
from core.state import private_dir

DEFAULT_PORT = 8237
DASHBOARD_USER = "default"  # the admin user ZenML creates with the local store
SERVICE_ACCOUNT = "mlops-cli"
NAME = "zenml"


def home() -> Path:
    return private_dir(services_dir() / NAME)


def password_file() -> Path:
    """The dashboard login's password (user `default`)."""
    return home() / "dashboard-password"


def _secret_file(path: Path, generate: bool = True) -> Optional[str]:
    """The value kept in `path` (created 0600 with a fresh value if missing and `generate`)."""
    if path.is_file():
        path.chmod(0o600)
        return path.read_text().strip()
    if not generate:
        return None
    value = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def _process(port: int = 0) -> ManagedProcess:
    """uvicorn running ZenML's server app, configured like ZenML's local daemon except for authentication."""
    from zenml.config.global_config import GlobalConfiguration

    return ManagedProcess(
        name=NAME,
        port=port,
        argv=[sys.executable, "-m", "uvicorn", "zenml.zen_server.zen_server_api:app", "--host", HOST,
              "--port", str(port), "--no-server-header", "--log-level", "info"],
        env={
            "ZENML_SERVER": "true",
            "ZENML_CONFIG_PATH": str(private_dir(home() / "config")),  # the server's own global config
            "ZENML_LOCAL_STORES_PATH": GlobalConfiguration().local_stores_path,  # the client's SQLite store
            "ZENML_SERVER_ALLOW_LOCAL_FILE_ACCESS": "true",  # the dashboard renders local artifacts
            "ZENML_ANALYTICS_OPT_IN": "false",
            "ZENML_SERVER_DEPLOYMENT_TYPE": "local",
            "ZENML_SERVER_AUTH_SCHEME": "OAUTH2_PASSWORD_BEARER",
            "ZENML_SERVER_JWT_SECRET_KEY": _secret_file(home() / "jwt-secret") or "",
            "ZENML_DISABLE_DATABASE_MIGRATION": "True",  # the client migrates its own store
            "ZENML_SERVER_AUTO_ACTIVATE": "True",
        },
    )


def url() -> Optional[str]:
    """The running server's URL, or None when none runs."""
    identity = ManagedProcess(NAME, 0).identity()
    if identity is None:
        return None
    argv = list(identity.argv)
    return f"http://{HOST}:{argv[argv.index('--port') + 1]}"


def _healthy(port: int) -> bool:
    try:
        return requests.get(f"http://{HOST}:{port}/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def start(port: int = DEFAULT_PORT, say=print, timeout: int = 90) -> str:  # noqa: ANN001
    """Starts (or re-uses) the server on 127.0.0.1:`port`, connects the client with its API key; returns the URL."""
    address = f"http://{HOST}:{port}"
    current = url()
    if current not in (None, address):
        raise ServiceError(f"the ZenML server already runs on {current}; stop it first "
                           f"(`python run.py stack down server`) to move it to port {port}")
    if current is None:
        if port_open(port):
            raise ServiceError(f"the ZenML server cannot use port {HOST}:{port}: another program listens there; "
                               f"choose another with `dashboard --port` or MLOPS_SERVER_ZENML_PORT")
        _bootstrap(say)
        server = _process(port)
        say(f"starting the ZenML server on {address} (login required; log {server.log_file})")
        server.start(ready=lambda: _healthy(port), timeout=timeout)
    connect()
    mark_onboarding_done(address)
    return address


def _bootstrap(say) -> None:  # noqa: ANN001
    """Before the server starts, on the client's own store: the dashboard password and the CLI's API key."""
    from zenml.client import Client
    from zenml.config.global_config import GlobalConfiguration
    from zenml.models import UserUpdate

    gc = GlobalConfiguration()
    if gc.store_configuration.type.value == "rest":
        gc.set_default_store()  # a server of ours that is gone: its store is this one
    client = Client()
    store = client.zen_store
    if not password_file().is_file():
        user = store.get_user(DASHBOARD_USER)
        store.update_user(user.id, UserUpdate(password=_secret_file(password_file())))
        say(f"ZenML dashboard login: user '{DASHBOARD_USER}', password in {password_file()} (readable by you only)")
    key_file = home() / "api-key"
    if not key_file.is_file():
        try:
            client.get_service_account(SERVICE_ACCOUNT)
        except KeyError:
            client.create_service_account(SERVICE_ACCOUNT, description="the project's CLI and pipeline runs")
        key = client.create_api_key(SERVICE_ACCOUNT, name=f"cli-{secrets.token_hex(4)}").key
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{key}\n")


def connect() -> None:
    """Points the ZenML client at the running server, authenticated with the service account's API key."""
    from zenml.config.global_config import GlobalConfiguration
    from zenml.login.credentials_store import get_credentials_store
    from zenml.zen_stores.rest_zen_store import RestZenStoreConfiguration

    address = url()
    if address is None:
        raise ServiceError("the ZenML server is not running: start it with `python run.py stack up server` "
                           "or `python run.py dashboard`")
    key = _secret_file(home() / "api-key", generate=False)
    if not key:
        raise ServiceError(f"no API key for the ZenML server in {home() / 'api-key'}: restart the server with "
                           f"`python run.py stack down server && python run.py stack up server`")
    gc = GlobalConfiguration()
    get_credentials_store().set_api_key(address, key)
    _private_credentials(gc.config_directory)
    if gc.store_configuration.type.value != "rest" or gc.store_configuration.url != address:
        gc.set_store(RestZenStoreConfiguration(url=address))
    _private_credentials(gc.config_directory)


def _private_credentials(config_directory: str) -> None:
    """ZenML writes its credentials file with the default umask; the API key and tokens in it are ours only."""
    path = Path(config_directory) / "credentials.yaml"
    if path.exists():
        path.chmod(0o600)


def connected() -> bool:
    from zenml.config.global_config import GlobalConfiguration

    store = GlobalConfiguration().store_configuration
    return store.type.value == "rest" and store.url == url()


def disconnect_if_unreachable() -> bool:
    """Falls back to the client's own store when the configured local server is gone. Returns whether it did."""
    from zenml.config.global_config import GlobalConfiguration

    gc = GlobalConfiguration()
    store = gc.store_configuration
    if store.type.value != "rest" or not store.url.startswith((f"http://{HOST}:", "http://localhost:")):
        return False
    if url() == store.url:
        return False
    gc.set_default_store()
    return True


def stop(say=print) -> bool:  # noqa: ANN001
    """Stops the server and switches the client back to its own store. Returns whether one was running."""
    from zenml.config.global_config import GlobalConfiguration

    server = ManagedProcess(NAME, 0)
    if not server.running():
        return False
    say("stopping the ZenML server")
    was_connected = connected()
    server.stop()
    if was_connected:
        GlobalConfiguration().set_default_store()
    return True


def login(address: str) -> str:
    """An access token for the dashboard user (what the dashboard's login form gets)."""
    response = requests.post(f"{address}/api/v1/login", timeout=10,
                             data={"username": DASHBOARD_USER, "password": _secret_file(password_file(), False)})
    if response.status_code != 200:
        raise ServiceError(f"the ZenML server at {address} rejects the dashboard password in {password_file()} "
                           f"(HTTP {response.status_code})")
    return response.json()["access_token"]


def mark_onboarding_done(address: str) -> None:
    """Marks the dashboard user's first-run survey as answered, so the dashboard opens on pipelines and runs.

    The dashboard shows its survey while the user has no email opt-in decision or no `finished_onboarding_survey`
    flag in its metadata. Both are set through the server's own `/current-user` endpoint as that user (the one the
    survey form submits to); ZenML 0.98's admin user-update endpoint drops the opt-in field.
    """
    headers = {"Authorization": f"Bearer {login(address)}"}
    user = requests.get(f"{address}/api/v1/current-user", headers=headers, timeout=10).json()
    metadata = dict((user.get("metadata") or {}).get("user_metadata") or user.get("user_metadata") or {})
    body = user.get("body") or {}
    if not (metadata.get("finished_onboarding_survey") and body.get("email_opted_in") is not None):
        metadata["finished_onboarding_survey"] = True
        requests.put(f"{address}/api/v1/current-user", headers=headers, timeout=10,
                     json={"email_opted_in": False, "user_metadata": metadata}).raise_for_status()
    # An offline dashboard has no use for release announcements fetched from the internet.
    requests.put(f"{address}/api/v1/settings", headers=headers, timeout=10,
                 json={"display_announcements": False, "display_updates": False}).raise_for_status()
