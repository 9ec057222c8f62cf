"""A per-step cost of ZenML 0.98 that the local stack pays on every output artifact, cut without changing what is
recorded.

ZenML resolves the source of every output artifact's type; for a type from an installed package (a pandas
DataFrame, a whylogs profile) it calls `importlib.metadata.packages_distributions()`, a scan of every installed
distribution's file list, each time (py-spy, `run.py monitor --data` 10k rows: 1.2 of 20 sampled seconds). The
answer (which distribution provides a top-level module) cannot change while a command runs, so it is memoised per
module name.

Measured and not done: SQLite write-ahead logging for ZenML's store (its commits cost 1.8 of those 20 s): the
checkpoint SQLite runs when the last connection closes rewrites the database file after the process recorded the
active stack, so every read-only command after a pipeline command would lose its fast path (stacks/fast_paths.py
keys the record on the store file). `ZENML_DISABLE_STEP_LOGS_STORAGE`/`..._PIPELINE_LOGS_STORAGE` and
`ZENML_SKIP_STACK_VALIDATION` moved nothing measurable (docs/benchmarks.md).
"""

from __future__ import annotations

import functools


def tune_local_zenml() -> None:
    """Memoises ZenML's module -> distribution lookup for this process (idempotent)."""
    from zenml.utils import source_utils

    lookup = source_utils._get_package_for_module
    if not hasattr(lookup, "cache_info"):
        source_utils._get_package_for_module = functools.lru_cache(maxsize=None)(lookup)
