"""Imports whylogs the one way that works in this environment.

whylogs 1.6.4 still refers to `np.unicode_`, removed in numpy 2, and phones home unless told not to. Every module
that needs whylogs imports it from here: `from steps.whylogs_env import why`.
"""

import os

import numpy as np

os.environ.setdefault("WHYLOGS_NO_ANALYTICS", "1")
if not hasattr(np, "unicode_"):
    np.unicode_ = np.str_  # type: ignore[attr-defined]

import whylogs as why  # noqa: E402

__all__ = ["why"]
