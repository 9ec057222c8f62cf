"""Per-process costs of ZenML 0.98 that the local stack pays on every step, cut without changing what is recorded.

Measured with py-spy on `run.py monitor --data` (10k rows, 11 steps; docs/benchmarks.md "Pipeline commands"):

- ZenML resolves the source of every output artifact's type; for a type from an installed package (a pandas
  DataFrame, a whylogs profile) it calls `importlib.metadata.packages_distributions()`, a scan of every installed
  distribution's file list, each time. The answer (which distribution provides a top-level module) cannot change
  while a command runs, so it is memoised per module name here.
- ZenML's SQLite store commits several times per step (run, step run, artifact versions, run metadata) in SQLite's
  default rollback-journal mode: each commit writes and syncs a journal and the database. Write-ahead logging with
  `synchronous=NORMAL` (SQLite's recommended setting for WAL) makes a commit one append to the log; the database
  stays consistent on any crash, a power loss may drop the last commits. `journal_mode=WAL` is stored in the
  database file, so ZenML's own CLI and the dashboard use it too.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

logger = logging.getLogger(__name__)

_done: set = set()


def tune_local_zenml() -> None:
    """Applies both cuts once per process (ZenML already imported by the caller's stack preparation)."""
    if "tuned" in _done:
        return
    _done.add("tuned")
    memoise_package_lookup()
    try:
        write_ahead_log()
    except Exception as exc:  # noqa: BLE001 - a speed-up must never stop a command
        logger.debug("ZenML store left in its journal mode: %s", exc)


def memoise_package_lookup() -> None:
    """ZenML's module -> distribution lookup, memoised (see the module docstring)."""
    from zenml.utils import source_utils

    lookup = source_utils._get_package_for_module
    if not hasattr(lookup, "cache_info"):
        source_utils._get_package_for_module = functools.lru_cache(maxsize=None)(lookup)


def write_ahead_log() -> None:
    """Write-ahead logging with `synchronous=NORMAL` on ZenML's local SQLite store (no-op for a server or MySQL)."""
    from sqlalchemy import event
    from zenml.client import Client
    from zenml.zen_stores.sql_zen_store import SqlZenStore

    store = Client().zen_store
    if not isinstance(store, SqlZenStore) or not str(store.config.url).startswith("sqlite:"):
        return
    engine = store.engine

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    engine.dispose()  # connections opened before the listener get the pragmas when reopened
