"""Shared, session-scoped reference data for the data-layer tests: generated once, reused (tests stay fast)."""

import pytest

from steps.data.columns import plan_features
from steps.data.generator import TARGET, generate_batch
from steps.data.validation import infer_contract


@pytest.fixture(scope="session")
def reference():
    return generate_batch(4000, seed=11)


@pytest.fixture(scope="session")
def plan(reference):
    return plan_features(reference, TARGET, "binary")


@pytest.fixture(scope="session")
def contract(reference, plan):
    return infer_contract(reference, plan)
