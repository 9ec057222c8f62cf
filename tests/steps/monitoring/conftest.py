"""Shared, seeded data and saved profiles for the monitoring tests (built once per session: profiling is the cost)."""

from pathlib import Path

import pytest

from steps.data.generator import CATEGORICAL, NUMERIC, generate_batch
from steps.data.profiling import load_profile, profile_frame, save_profile

FEATURES = NUMERIC + CATEGORICAL


@pytest.fixture(scope="session")
def profiles_dir(tmp_path_factory) -> Path:
    """Saved profiles: the training reference, a fresh batch and a drifted batch (fixed seeds)."""
    directory = tmp_path_factory.mktemp("profiles")
    batches = {
        "reference": generate_batch(5000, seed=1, drift=0.0),
        "fresh": generate_batch(1000, seed=2, drift=0.0),
        "shifted": generate_batch(1000, seed=2, drift=0.6),
        "mild": generate_batch(1000, seed=3, drift=0.3),
    }
    for name, frame in batches.items():
        save_profile(profile_frame(frame[FEATURES]), directory / f"{name}.bin")
    return directory


@pytest.fixture()
def load(profiles_dir):
    return lambda name: load_profile(profiles_dir / f"{name}.bin")
