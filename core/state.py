"""Where the project keeps run state (never committed), and folders only their owner may enter.

Run state holds credentials files, sockets and logs of daemons, so every folder created here is mode 0700 and
an existing one is checked: owned by someone else or a symlink -> refused with a clear message; ours but readable
or writable by others -> tightened to 0700. Execute-only bits for others are left alone: as root, PostgreSQL runs
as the `postgres` user, which must traverse the run-state root to reach its data folder (stacks/services/postgres.py).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STATE_DIR_ENV = "MLOPS_STATE_DIR"


class UnsafeDirectoryError(RuntimeError):
    """A folder for private run state exists but belongs to someone else or is not a real folder."""


def private_dir(path: Path) -> Path:
    """Creates `path` (and missing parents) mode 0700, or checks an existing one; returns `path`."""
    path = Path(path)
    try:
        path.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise UnsafeDirectoryError(
            f"{path} should be a private folder but is a {'symlink' if stat.S_ISLNK(info.st_mode) else 'file'}: "
            f"remove it (it may have been planted by another user) and run the command again"
        )
    if info.st_uid != os.geteuid():
        raise UnsafeDirectoryError(
            f"{path} belongs to uid {info.st_uid}, not to you (uid {os.geteuid()}): another user may read or plant "
            f"files there; remove it, or point {STATE_DIR_ENV} (or TMPDIR for sockets) at a folder of your own"
        )
    if info.st_mode & 0o066:
        os.chmod(path, 0o700)
    return path


def state_dir() -> Path:
    """The run-state root: $MLOPS_STATE_DIR, or `.state/` in the project root (private, see private_dir)."""
    return private_dir(Path(os.environ.get(STATE_DIR_ENV) or PROJECT_ROOT / ".state").resolve())
