"""The churn generator: deterministic, realistic, and its drift really moves data and concept."""

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from steps.data.generator import (
    CATEGORICAL, ID_COLUMN, NUMERIC, TARGET, TIME_COLUMN, UNSEEN_REGION, drift_for_day, generate_batch, generate_days,
)


def _fit(frame):
    pre = make_column_transformer(
        (make_pipeline(SimpleImputer(), StandardScaler()), NUMERIC),
        (make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")), CATEGORICAL),
    )
    return make_pipeline(pre, LogisticRegression(max_iter=500)).fit(frame[NUMERIC + CATEGORICAL], frame[TARGET])


def _auc(model, frame):
    return roc_auc_score(frame[TARGET], model.predict_proba(frame[NUMERIC + CATEGORICAL])[:, 1])


def test_same_arguments_same_frame_and_different_seed_or_day_differ():
    a = generate_batch(500, seed=3, drift=0.2, day=1)
    pd.testing.assert_frame_equal(a, generate_batch(500, seed=3, drift=0.2, day=1))
    assert not a.equals(generate_batch(500, seed=4, drift=0.2, day=1))
    assert not a.equals(generate_batch(500, seed=3, drift=0.2, day=2))


def test_schema_missing_values_and_timestamps():
    df = generate_batch(5000, day=2)
    assert list(df.columns) == [ID_COLUMN, TIME_COLUMN, *NUMERIC, *CATEGORICAL, TARGET]
    assert df[ID_COLUMN].is_unique
    assert df[TIME_COLUMN].dt.normalize().eq(pd.Timestamp("2026-01-03")).all()
    null_fractions = df.isna().mean()
    assert set(null_fractions[null_fractions > 0].index) == {"total_charges", "avg_session_minutes", "payment_method"}
    assert null_fractions.between(0, 0.06).all() and null_fractions.max() >= 0.02
    assert set(df[TARGET].unique()) == {0, 1} and 0.15 < df[TARGET].mean() < 0.5
    assert set(df["region"].dropna()) <= {"north", "south", "east", "west"}


def test_relationship_is_learnable_but_not_trivial():
    model = _fit(generate_batch(6000, seed=1))
    assert 0.78 <= _auc(model, generate_batch(4000, seed=2)) <= 0.92


def test_drift_shifts_distributions_and_degrades_a_drift0_model():
    model = _fit(generate_batch(6000, seed=1))
    base, drifted = generate_batch(4000, seed=2), generate_batch(4000, seed=2, drift=0.8)
    assert drifted["age"].mean() - base["age"].mean() > 5
    # Prices rise within each plan (the plan mix moves towards basic at the same time).
    by_plan = drifted.groupby("plan")["monthly_charges"].mean() / base.groupby("plan")["monthly_charges"].mean()
    assert (by_plan > 1.12).all()
    assert drifted["support_calls"].mean() > 1.5 * base["support_calls"].mean()
    assert (drifted["contract_type"] == "month-to-month").mean() > (base["contract_type"] == "month-to-month").mean() + 0.15
    assert _auc(model, base) - _auc(model, drifted) > 0.1  # 0.84 -> 0.71 with these seeds
    # Concept drift, not only covariate drift: a model fitted on drifted data does much better on it.
    assert _auc(_fit(generate_batch(6000, seed=1, drift=0.8)), drifted) - _auc(model, drifted) > 0.1


def test_unseen_category_appears_only_from_drift_one_half():
    assert not (generate_batch(20000, drift=0.49)["region"] == UNSEEN_REGION).any()
    assert (generate_batch(2000, drift=0.5)["region"] == UNSEEN_REGION).mean() > 0.05


def test_generate_days_ramps_drift_from_the_given_day():
    days = list(generate_days(4, 300, seed=5, drift_from=2, drift_per_day=0.4))
    assert [d for d, _ in days] == [0, 1, 2, 3]
    pd.testing.assert_frame_equal(days[3][1], generate_batch(300, seed=5, drift=0.8, day=3))
    assert [drift_for_day(d, 2, 0.4) for d in range(5)] == [0.0, 0.0, 0.4, 0.8, 1.0]
    assert drift_for_day(9, None) == 0.0


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_rows=0), "n_rows must be a positive integer"),
    (dict(n_rows=10, drift=1.5), "drift must be a number in [0, 1]"),
    (dict(n_rows=10, day=-1), "day must be a non-negative integer"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        generate_batch(**kwargs)


def test_vectorised_on_large_batches():
    df = generate_batch(200_000, seed=9)
    assert len(df) == 200_000 and df[ID_COLUMN].is_unique and np.isfinite(df["monthly_charges"]).all()
