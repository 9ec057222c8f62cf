"""Service credentials: generated once, kept only in ZenML secrets, handed to processes through their environment.

Nothing here prints or logs a value. Stack specs reference them as `{{secret_name.key}}`, which ZenML resolves
when a step runs.
"""

from __future__ import annotations

import secrets
from typing import Dict, Iterable


def _generate() -> str:
    # URL-safe, long enough for MLflow's password policy and scram-sha-256 alike.
    return secrets.token_urlsafe(24)


def ensure_secret(name: str, username: str) -> Dict[str, str]:
    """Returns `{username, password}` from the ZenML secret `name`, creating it with a fresh password if missing."""
    from zenml.client import Client

    client = Client()
    try:
        values = client.get_secret(name, allow_partial_name_match=False, allow_partial_id_match=False).secret_values
    except KeyError:
        values = {}
    if not values.get("username") or not values.get("password"):
        values = {"username": username, "password": _generate()}
        if _exists(name):
            client.update_secret(name, add_or_update_values=values)
        else:
            client.create_secret(name, values=values)
    return {"username": values["username"], "password": values["password"]}


def _exists(name: str) -> bool:
    from zenml.client import Client

    return any(s.name == name for s in Client().list_secrets(name=name).items)


def missing_keys(name: str, keys: Iterable[str]) -> list[str]:
    """Keys of the ZenML secret `name` that are absent or empty (all of them if the secret does not exist)."""
    from zenml.client import Client

    try:
        values = Client().get_secret(name, allow_partial_name_match=False, allow_partial_id_match=False).secret_values
    except KeyError:
        return list(keys)
    return [k for k in keys if not values.get(k)]
