"""The server stack's ZenML server for real: nothing without a login, the CLI gets in with its API key, the
dashboard user with the generated password (never an empty one), and every credential file is its owner's only."""

from __future__ import annotations

import json
import stat

import pytest
import requests

from tests.stacks.service_env import sandbox

pytestmark = pytest.mark.integration

START_AND_USE = r'''
import json, os, sys
sys.path.insert(0, os.getcwd())  # the project root (the snippet itself lives in the sandbox)
from stacks.services import zenml_server
url = zenml_server.start(int(os.environ["MLOPS_SERVER_ZENML_PORT"]), say=lambda m: None)
from zenml.client import Client
client = Client()
client.create_secret("auth_probe", values={"password": "probe-value"})
print(json.dumps({"url": url, "user": client.active_user.name, "store": client.zen_store.config.url,
                  "secrets": [s.name for s in client.list_secrets().items]}))
'''


@pytest.fixture
def box():
    yield from sandbox()


def test_the_zenml_server_requires_a_login(box) -> None:
    facts = json.loads(box.python(START_AND_USE).strip().splitlines()[-1])
    url = facts["url"]
    assert facts["store"] == url and facts["user"] == "mlops-cli"  # the CLI's service account, by API key
    assert "auth_probe" in facts["secrets"]

    for path in ("/api/v1/secrets", "/api/v1/users", "/api/v1/components"):
        assert requests.get(f"{url}{path}", timeout=10).status_code == 401, path
    for password in ("", "wrong"):
        login = requests.post(f"{url}/api/v1/login", data={"username": "default", "password": password}, timeout=10)
        assert login.status_code == 401, f"password {password!r} let the dashboard user in"

    home = box.state / "services" / "zenml"
    password = (home / "dashboard-password").read_text().strip()
    login = requests.post(f"{url}/api/v1/login", data={"username": "default", "password": password}, timeout=10)
    assert login.status_code == 200
    secrets = requests.get(f"{url}/api/v1/secrets", timeout=10,
                           headers={"Authorization": f"Bearer {login.json()['access_token']}"})
    assert secrets.status_code == 200 and "auth_probe" in secrets.text

    for path in (home / "dashboard-password", home / "api-key", home / "jwt-secret",
                 box.zenml_config / "credentials.yaml"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for folder in (box.state, box.state / "services", home):
        assert stat.S_IMODE(folder.stat().st_mode) & 0o077 in (0, 0o011, 0o001), folder  # at most traversable
    assert password not in (box.state / "services" / "zenml.log").read_text(errors="replace")
