"""The local ZenML server (what `zenml login --local` starts) and its dashboard, driven through ZenML's own API.

ZenML runs it as a daemon next to its global config and points it at the same SQLite store the client uses
without a server, so stacks, runs and secrets are the same on both sides: connecting or disconnecting the client
changes the path, never the data. `zenml login --local` / `zenml logout --local` see the same server.
"""

from __future__ import annotations

from typing import Optional

from stacks.services.process import HOST, ServiceError, port_open

DEFAULT_PORT = 8237


def _deployer():  # noqa: ANN202
    from zenml.zen_server.deploy.deployer import LocalServerDeployer

    return LocalServerDeployer()


def url() -> Optional[str]:
    """The running local server's URL, or None when none runs."""
    from zenml.zen_server.deploy.exceptions import ServerDeploymentNotFoundError

    try:
        server = _deployer().get_server()
    except ServerDeploymentNotFoundError:
        return None
    return server.status.url if server.is_running and server.status else None


def start(port: int = DEFAULT_PORT, say=print, timeout: int = 90) -> str:  # noqa: ANN001
    """Starts (or re-uses) the local ZenML server on 127.0.0.1:`port`, connects the client and returns its URL."""
    from zenml.enums import ServerProviderType
    from zenml.zen_server.deploy.deployment import LocalServerDeploymentConfig

    deployer = _deployer()
    current = url()
    if current != f"http://{HOST}:{port}":
        if port_open(port):
            raise ServiceError(f"the ZenML server cannot use port {HOST}:{port}: another program listens there; "
                               f"choose another with `dashboard --port` or MLOPS_SERVER_ZENML_PORT")
        say(f"starting the ZenML server on http://{HOST}:{port}")
        config = LocalServerDeploymentConfig(provider=ServerProviderType.DAEMON, port=port, ip_address=HOST)
        server = deployer.deploy_server(config, timeout=timeout)
        if not server.is_running:
            message = server.status.status_message if server.status else "no status"
            raise ServiceError(f"the ZenML server did not start on port {port}: {message}; "
                               f"see `zenml logs` or {_log_hint()}")
    connect()
    mark_onboarding_done()
    return url() or f"http://{HOST}:{port}"


def _log_hint() -> str:
    from zenml.zen_server.deploy.daemon.daemon_zen_server import DaemonZenServer

    return f"{DaemonZenServer.config_path()}/service.log"


def connect() -> None:
    """Points the ZenML client at the running local server (REST store)."""
    deployer = _deployer()
    if url() is None:
        raise ServiceError("the local ZenML server is not running: start it with `python run.py stack up server` "
                           "or `python run.py dashboard`")
    if not deployer.is_connected_to_server():
        deployer.connect_to_server()


def connected() -> bool:
    return _deployer().is_connected_to_server()


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
    """Stops the local server and switches the client back to its own store. Returns whether one was running."""
    from zenml.zen_server.deploy.exceptions import ServerDeploymentNotFoundError

    deployer = _deployer()
    try:
        deployer.get_server()
    except ServerDeploymentNotFoundError:
        return False
    say("stopping the ZenML server")
    deployer.remove_server()
    return True


def mark_onboarding_done() -> None:
    """Marks the current user's first-run survey as answered, so the dashboard opens on pipelines and runs.

    The dashboard shows its survey while the user has no email opt-in decision or no `finished_onboarding_survey`
    flag in its metadata. Both are set through the server's own `/current-user` endpoint (the one the survey form
    submits to); ZenML 0.98's admin user-update endpoint drops the opt-in field. Needs a connected client.
    """
    from zenml.client import Client
    from zenml.constants import CURRENT_USER
    from zenml.models import ServerSettingsUpdate, UserUpdate

    client = Client()
    store = client.zen_store
    user = client.active_user
    metadata = dict(user.user_metadata or {})
    if not (metadata.get("finished_onboarding_survey") and user.email_opted_in is not None):
        metadata["finished_onboarding_survey"] = True
        store.put(CURRENT_USER, body=UserUpdate(email_opted_in=False, user_metadata=metadata))  # type: ignore[attr-defined]
    # An offline dashboard has no use for release announcements fetched from the internet. Through the store, not
    # Client.update_server_settings, which sends every unset field as NULL in 0.98.
    store.update_server_settings(ServerSettingsUpdate(display_announcements=False, display_updates=False))
