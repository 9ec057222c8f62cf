"""Run-state paths for stacks/ code; they live in the ground-floor package `core.state`."""

from core.state import PROJECT_ROOT, STATE_DIR_ENV, UnsafeDirectoryError, private_dir, state_dir

__all__ = ["PROJECT_ROOT", "STATE_DIR_ENV", "UnsafeDirectoryError", "private_dir", "state_dir"]
