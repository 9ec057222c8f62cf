"""A seeded generator of a realistic customer-churn table, with controllable drift.

The default data source of the project: it needs no download, is identical on every machine for the same
arguments, and can produce a stream of daily batches whose drift grows, so that monitoring has something to find.

`drift` in [0, 1] moves three things at once, all proportional to `drift`:
- covariate drift: numeric distributions shift (older customers, shorter tenure, higher charges, more support calls,
  shorter sessions) and the category mix changes (more month-to-month contracts, more basic plans);
- a new category: from drift 0.5 on, `region` takes the value "central", never seen at drift 0;
- concept drift: the coefficients linking features to churn move towards a different set (tenure stops protecting,
  support calls stop mattering, sessions length flips sign), so a model fitted at drift 0 loses accuracy.
"""

from __future__ import annotations

from typing import Iterator, Optional, Tuple

import numpy as np
import pandas as pd

TARGET = "churned"
ID_COLUMN = "customer_id"
TIME_COLUMN = "event_time"
NUMERIC = ["age", "tenure_months", "monthly_charges", "total_charges", "support_calls", "avg_session_minutes"]
CATEGORICAL = ["contract_type", "payment_method", "region", "plan"]

CONTRACTS = np.array(["month-to-month", "one-year", "two-year"], dtype=object)
PAYMENTS = np.array(["electronic_check", "mailed_check", "bank_transfer", "credit_card"], dtype=object)
REGIONS = np.array(["north", "south", "east", "west", "central"], dtype=object)  # "central" only at drift >= 0.5
PLANS = np.array(["basic", "standard", "premium"], dtype=object)
UNSEEN_REGION = "central"
UNSEEN_CATEGORY_DRIFT = 0.5

# Fraction of missing values per column: real exports have gaps in derived and optional fields.
MISSING = {"total_charges": 0.03, "avg_session_minutes": 0.04, "payment_method": 0.02}

# Churn log-odds coefficients at drift 0 and drift 1; in between they are interpolated (concept drift).
_COEF_REF = {
    "intercept": -1.5, "tenure": -0.045, "support": 0.45, "charges": 0.022, "session": -0.05, "age": -0.012,
    "mtm": 1.1, "two_year": -1.3, "echeck": 0.6, "premium": -0.4, "south": 0.3,
}
# Concept drift as it happens: price sensitivity and support pain grow, loyalty (tenure, contracts) stops
# protecting, premium customers start leaving. A drift-0 model loses ~0.13 AUC at drift 1; a model retrained on
# old plus new data recovers (a full inversion of every effect would make the old data useless).
_COEF_DRIFTED = {
    "intercept": -2.3, "tenure": 0.0, "support": 0.9, "charges": 0.07, "session": 0.03, "age": 0.02,
    "mtm": 0.3, "two_year": 0.0, "echeck": -0.2, "premium": 1.5, "south": -0.5,
}


def _check_args(n_rows: int, drift: float, day: int) -> None:
    if isinstance(n_rows, bool) or not isinstance(n_rows, (int, np.integer)) or n_rows < 1:
        raise ValueError(f"n_rows must be a positive integer, got {n_rows!r}")
    if not isinstance(drift, (int, float, np.floating)) or not 0.0 <= float(drift) <= 1.0:
        raise ValueError(f"drift must be a number in [0, 1], got {drift!r}")
    if isinstance(day, bool) or not isinstance(day, (int, np.integer)) or day < 0:
        raise ValueError(f"day must be a non-negative integer, got {day!r}")


def _choice(rng: np.random.Generator, values: np.ndarray, probs: np.ndarray, n: int) -> np.ndarray:
    """Vectorised categorical draw (inverse CDF), much faster than rng.choice on object arrays."""
    cdf = np.cumsum(probs / probs.sum())
    idx = np.searchsorted(cdf, rng.random(n), side="right")
    return values[np.minimum(idx, len(values) - 1)]


def generate_batch(
    n_rows: int, seed: int = 42, drift: float = 0.0, start: str = "2026-01-01", day: int = 0
) -> pd.DataFrame:
    """One batch of customer records for day `day` after `start`, with churn label `churned` (0/1).

    Deterministic for (n_rows, seed, drift, day, start). The random draws depend on (seed, day) only, so the same
    customers appear at every drift level and differences between drift levels come from the drift alone.
    """
    _check_args(n_rows, drift, day)
    d = float(drift)
    n = int(n_rows)
    rng = np.random.default_rng([int(seed), int(day)])

    contract = _choice(rng, CONTRACTS, np.array([0.50 + 0.30 * d, 0.28 - 0.13 * d, 0.22 - 0.17 * d]), n)
    payment = _choice(rng, PAYMENTS, np.array([0.34 + 0.2 * d, 0.22 - 0.1 * d, 0.22 - 0.05 * d, 0.22 - 0.05 * d]), n)
    p_central = 0.0 if d < UNSEEN_CATEGORY_DRIFT else 0.10 + 0.30 * (d - UNSEEN_CATEGORY_DRIFT) / 0.5
    region_probs = np.array([0.30, 0.25 + 0.1 * d, 0.25, 0.20 - 0.1 * d, 0.0]) * (1 - p_central)
    region_probs[-1] = p_central
    region = _choice(rng, REGIONS, region_probs, n)
    plan = _choice(rng, PLANS, np.array([0.40 + 0.25 * d, 0.35 - 0.1 * d, 0.25 - 0.15 * d]), n)

    age = np.clip(np.round(rng.normal(44 + 10 * d, 13, n)), 18, 90).astype(np.int64)
    # Longer contracts go with longer tenure; drift brings in a wave of new customers.
    tenure_scale = np.where(contract == "two-year", 40.0, np.where(contract == "one-year", 26.0, 12.0)) * (1 - 0.5 * d)
    tenure = np.minimum(np.floor(rng.exponential(tenure_scale)), 72).astype(np.int64)
    plan_base = np.where(plan == "premium", 95.0, np.where(plan == "standard", 65.0, 35.0))
    monthly = np.round(np.clip(plan_base * (1 + 0.25 * d) + rng.normal(0, 9, n), 15, None), 2)
    total = np.round(monthly * np.maximum(tenure, 1) * rng.normal(1.0, 0.05, n), 2)
    support = rng.poisson(1.4 * (1 + 1.2 * d) + 0.6 * (plan == "basic"), n).astype(np.int64)
    session = np.round(rng.lognormal(np.log(28.0) - 0.4 * d, 0.45, n), 1)

    c = {k: (1 - d) * _COEF_REF[k] + d * _COEF_DRIFTED[k] for k in _COEF_REF}
    logit = (
        c["intercept"] + c["tenure"] * tenure + c["support"] * support + c["charges"] * (monthly - 60)
        + c["session"] * (session - 28) + c["age"] * (age - 44) + c["mtm"] * (contract == "month-to-month")
        + c["two_year"] * (contract == "two-year") + c["echeck"] * (payment == "electronic_check")
        + c["premium"] * (plan == "premium") + c["south"] * (region == "south")
        + rng.normal(0, 0.6, n)  # unobserved causes: keeps the best achievable AUC well below 1
    )
    churned = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)

    seconds = np.sort(rng.integers(0, 86_400, n))
    event_time = pd.Timestamp(start) + pd.Timedelta(days=int(day)) + pd.to_timedelta(seconds, unit="s")
    # Ids are unique across days of the same seed: day number in the high digits.
    ids = pd.Series(np.arange(n, dtype=np.int64) + int(day) * 10_000_000).astype(str).str.zfill(9)

    frame = pd.DataFrame(
        {
            ID_COLUMN: ("C" + ids).to_numpy(dtype=object),
            TIME_COLUMN: event_time,
            "age": age,
            "tenure_months": tenure,
            "monthly_charges": monthly,
            "total_charges": total,
            "support_calls": support,
            "avg_session_minutes": session,
            "contract_type": contract,
            "payment_method": payment,
            "region": region,
            "plan": plan,
            TARGET: churned,
        }
    )
    for column, fraction in MISSING.items():
        mask = rng.random(n) < fraction
        frame[column] = frame[column].mask(mask)
    return frame


def drift_for_day(day: int, drift_from: Optional[int], drift_per_day: float = 0.15) -> float:
    """Drift level of `day` in a simulation: 0 before `drift_from`, then +drift_per_day a day, capped at 1."""
    if drift_from is None or day < drift_from:
        return 0.0
    return min(1.0, (day - drift_from + 1) * drift_per_day)


def generate_days(
    n_days: int,
    rows_per_day: int,
    seed: int = 42,
    drift_from: Optional[int] = None,
    drift_per_day: float = 0.15,
) -> Iterator[Tuple[int, pd.DataFrame]]:
    """Yields (day, batch) for days 0..n_days-1; drift ramps up from day `drift_from` (never if None)."""
    if isinstance(n_days, bool) or not isinstance(n_days, (int, np.integer)) or n_days < 1:
        raise ValueError(f"n_days must be a positive integer, got {n_days!r}")
    if not 0.0 < float(drift_per_day) <= 1.0:
        raise ValueError(f"drift_per_day must be in (0, 1], got {drift_per_day!r}")
    if drift_from is not None and (not isinstance(drift_from, (int, np.integer)) or drift_from < 0):
        raise ValueError(f"drift_from must be a non-negative integer or None, got {drift_from!r}")
    for day in range(int(n_days)):
        yield day, generate_batch(rows_per_day, seed=seed, drift=drift_for_day(day, drift_from, drift_per_day), day=day)
