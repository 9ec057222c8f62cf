"""The server stack's PostgreSQL: Debian's server binaries, our own cluster under the run-state directory.

No system service is touched: `initdb` creates a private cluster, `postgres` runs it on 127.0.0.1 only (no Unix
socket), password authentication (scram-sha-256) for the one role, whose password lives in a ZenML secret.
PostgreSQL refuses to run as root; as root we run it as the Debian `postgres` user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, Iterable, Optional

from stacks.services.process import HOST, ManagedProcess, ServiceError, services_dir
from core.state import state_dir

SECRET = "server_stack_postgres"
ROLE = "mlflow"
DATABASES = ("mlflow", "mlflow_auth")  # tracking + registry metadata, and MLflow's user store
INSTALL_HINT = "install it with `bash .ci/deps-server.sh` (Debian package postgresql)"


def binary(name: str) -> str:
    """Path of a PostgreSQL server binary (Debian keeps them in /usr/lib/postgresql/<version>/bin, off PATH)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    if not candidates:
        raise ServiceError(f"PostgreSQL '{name}' not found on PATH or in /usr/lib/postgresql/*/bin: {INSTALL_HINT}")
    return candidates[-1]


def data_dir() -> Path:
    return services_dir() / "postgresql" / "data"


def run_as() -> Optional[str]:
    """The system user PostgreSQL runs as: ourselves, or `postgres` when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise ServiceError(f"running as root, but there is no 'postgres' system user to run PostgreSQL as: "
                           f"{INSTALL_HINT}") from None
    return "postgres"


def _check_reachable(path: Path, user: str) -> None:
    """As root, every directory above the data directory must let `user` through, or postgres cannot start."""
    uid = pwd.getpwnam(user).pw_uid
    for parent in reversed(path.parents):
        mode = parent.stat()
        if mode.st_uid != uid and not mode.st_mode & stat.S_IXOTH:
            raise ServiceError(
                f"PostgreSQL runs as '{user}' (it refuses root) and cannot enter {parent} (mode "
                f"{stat.filemode(mode.st_mode)}): allow traversal with `chmod o+x {parent}`, or set MLOPS_STATE_DIR "
                f"to a directory '{user}' can reach"
            )


def _allow_traverse(path: Path) -> None:
    """Lets others through (execute only, no listing) the private run-state folders down to `path`.

    Only as root, for the `postgres` user; core.state.private_dir leaves execute-only bits alone. Group too: a
    process started with `user=` keeps root's group, so the group bits are the ones checked for it.
    """
    root = state_dir()
    for folder in [path, *path.parents]:
        folder.chmod(folder.stat().st_mode | 0o011)
        if folder == root:
            return


def _chown(path: Path, user: Optional[str]) -> None:
    if user:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def init_cluster(password: str, say) -> None:  # noqa: ANN001 - say: Callable[[str], None]
    """Creates the cluster once (a no-op when data_dir() holds one)."""
    data = data_dir()
    if (data / "PG_VERSION").is_file():
        return
    user = run_as()
    data.mkdir(parents=True, exist_ok=True)
    data.chmod(0o700)
    _chown(data, user)
    if user:
        _allow_traverse(data.parent)
        _check_reachable(data, user)
    say(f"creating PostgreSQL cluster in {data}")
    # The password reaches initdb through a 0600 file that exists only for this call, never a command line.
    with tempfile.NamedTemporaryFile("w", dir=data.parent, prefix=".pw-", delete=False) as handle:
        handle.write(password + "\n")
        pwfile = Path(handle.name)
    try:
        pwfile.chmod(0o600)
        _chown(pwfile, user)
        result = subprocess.run(  # noqa: S603
            [binary("initdb"), "-D", str(data), "-U", ROLE, f"--pwfile={pwfile}", "--auth=scram-sha-256",
             "-E", "UTF8", "--no-locale"],
            capture_output=True, text=True, user=user, cwd=data.parent, check=False,
        )
    finally:
        pwfile.unlink(missing_ok=True)
    if result.returncode != 0:
        raise ServiceError(f"initdb failed (exit {result.returncode}): {result.stderr.strip() or result.stdout}")


def process(port: int) -> ManagedProcess:
    """The postmaster; SIGINT is PostgreSQL's 'fast shutdown' (disconnect clients, checkpoint, exit)."""
    return ManagedProcess(
        name="postgresql",
        port=port,
        argv=[binary("postgres"), "-D", str(data_dir()), "-p", str(port), "-c", f"listen_addresses={HOST}",
              "-c", "unix_socket_directories=", "-c", "max_connections=40"],
        env={"LC_ALL": "C"},
        user=run_as(),
        stop_signal=signal.SIGINT,
    )


def connect(port: int, password: str, database: str = "postgres"):  # noqa: ANN201 - psycopg2 connection
    import psycopg2

    return psycopg2.connect(host=HOST, port=port, user=ROLE, password=password, dbname=database, connect_timeout=3)


def _accepts_logins(port: int, password: str) -> bool:
    import psycopg2

    try:
        connect(port, password).close()
        return True
    except psycopg2.OperationalError as exc:
        if "password authentication failed" in str(exc):
            raise ServiceError(
                f"PostgreSQL in {data_dir()} rejects the password of ZenML secret '{SECRET}' (was the secret deleted "
                f"or changed?): restore it, or stop the stack and remove {data_dir().parent} to start empty"
            ) from None
        return False  # still starting up


def start(port: int, password: str, say, databases: Iterable[str] = DATABASES) -> None:  # noqa: ANN001
    """Initialises (once) and starts the cluster, then creates the databases MLflow needs."""
    init_cluster(password, say)
    if run_as():
        _allow_traverse(data_dir().parent)  # a run-state folder tightened since (core.state.private_dir)
    proc = process(port)
    if not proc.running():
        say(f"starting PostgreSQL on {HOST}:{port} (log {proc.log_file})")
    proc.start(ready=lambda: _accepts_logins(port, password))
    conn = connect(port, password)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            for name in databases:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cur.fetchone() is None:
                    cur.execute(f'CREATE DATABASE "{name}"')  # names are our constants, not user input
    finally:
        conn.close()


def uri(port: int, database: str) -> str:
    """SQLAlchemy URI without the password: libpq takes it from PGPASSWORD in the server's environment."""
    return f"postgresql://{ROLE}@{HOST}:{port}/{database}"


def client_env(password: str) -> Dict[str, str]:
    return {"PGPASSWORD": password}
