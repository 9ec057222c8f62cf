"""Imports whylogs the one way that works in this environment.

whylogs 1.6.4 still refers to `np.unicode_`, removed in numpy 2, and phones home unless told not to. Every module
that needs whylogs imports it from here: `from core.whylogs_env import why`.
"""

import logging
import os

import numpy as np

os.environ.setdefault("WHYLOGS_NO_ANALYTICS", "1")
if not hasattr(np, "unicode_"):
    np.unicode_ = np.str_  # type: ignore[attr-defined]

import whylogs as why  # noqa: E402

# whylogs logs every profile-file read at INFO; keep its warnings only.
logging.getLogger("whylogs").setLevel(logging.WARNING)

__all__ = ["why"]
