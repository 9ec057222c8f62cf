"""The server stack's own PostgreSQL cluster (Debian binaries): created once, 127.0.0.1 only, password login only,
and clear errors when the password does not match or (as root) the `postgres` user cannot reach the data."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from stacks.services import postgres
from stacks.services.process import ManagedProcess, ServiceError, free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def state(monkeypatch):
    root = Path(tempfile.mkdtemp(prefix="mlops-pg-test-"))
    root.chmod(0o711)  # as root, PostgreSQL runs as `postgres`, which must traverse to its data directory
    monkeypatch.setenv("MLOPS_STATE_DIR", str(root / "state"))
    port = free_port()
    try:
        yield port
    finally:
        ManagedProcess("postgresql", port).stop()
        shutil.rmtree(root, ignore_errors=True)


def test_cluster_starts_creates_databases_and_rejects_a_changed_password(state):
    import psycopg2

    port = state
    postgres.start(port, "first-password-123", say=lambda _: None)
    conn = postgres.connect(port, "first-password-123")
    with conn.cursor() as cur:
        cur.execute("SELECT datname FROM pg_database")
        assert set(postgres.DATABASES) <= {row[0] for row in cur.fetchall()}
        cur.execute("SHOW listen_addresses")
        assert cur.fetchone()[0] == "127.0.0.1"
        cur.execute("SHOW unix_socket_directories")
        assert cur.fetchone()[0] == ""
    conn.close()
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        postgres.connect(port, "wrong-password-123")

    ManagedProcess("postgresql", port).stop()
    with pytest.raises(ServiceError, match="rejects the password of ZenML secret 'server_stack_postgres'"):
        postgres.start(port, "second-password-123", say=lambda _: None)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands PostgreSQL to the `postgres` user")
def test_as_root_an_unreachable_data_directory_is_named(monkeypatch):
    root = Path(tempfile.mkdtemp(prefix="mlops-pg-test-"))
    root.chmod(0o711)
    closed = root / "private"
    closed.mkdir(mode=0o700)
    monkeypatch.setenv("MLOPS_STATE_DIR", str(closed / "state"))
    try:
        with pytest.raises(ServiceError, match=f"cannot enter {closed} .*chmod o\\+x {closed}"):
            postgres.init_cluster("some-password-123", say=lambda _: None)
    finally:
        shutil.rmtree(root, ignore_errors=True)
