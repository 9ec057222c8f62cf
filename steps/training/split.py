"""Train/holdout splits: seeded random (stratified for classification) or by time (train on the past).

Identical rows always land on the same side, so that no holdout row was also a training row; `SplitManifest`
records the result by row fingerprint.
"""

from __future__ import annotations

import logging
from typing import Dict, Optional

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from steps.data.rows import row_fingerprints

logger = logging.getLogger(__name__)

METHODS = ("random", "time")


class SplitError(ValueError):
    """The data cannot be split as configured."""


def timestamp_column(dropped: Dict[str, str], configured: Optional[str] = None) -> Optional[str]:
    """The configured time column, else the first column the feature plan dropped as a timestamp, else None."""
    if configured:
        return configured
    return next((name for name, reason in dropped.items() if reason.startswith("timestamp")), None)


def _check_size(n: int, n_test: int, test_size: float) -> None:
    if n_test < 1 or n - n_test < 2:
        raise SplitError(f"split.test_size={test_size} leaves no rows for training or holdout ({n} rows)")


def _random_holdout(df: pd.DataFrame, keys: np.ndarray, target: str, task: str, test_size: float,
                    seed: int) -> np.ndarray:
    """Boolean mask of holdout rows; duplicates of a row share its side."""
    first = ~pd.Series(keys).duplicated().to_numpy()
    unique = df.loc[first]
    stratify = None
    if task != "regression":
        counts = unique[target].value_counts()
        if counts.min() < 2:
            rare = counts[counts < 2].index.tolist()
            raise SplitError(f"target '{target}': class(es) {rare} have fewer than 2 rows; cannot stratify the split")
        stratify = unique[target]
    _check_size(len(unique), int(round(len(unique) * test_size)), test_size)
    _, held = train_test_split(np.arange(len(unique)), test_size=test_size, random_state=seed, stratify=stratify)
    return np.isin(keys, keys[first][held])


def _time_order(df: pd.DataFrame, time_column: Optional[str]) -> np.ndarray:
    if time_column is None:
        return np.arange(len(df))
    if time_column not in df.columns:
        columns = ", ".join(map(str, df.columns))
        raise SplitError(f"split.time_column '{time_column}' is not a column; columns: {columns}")
    times = df[time_column]
    if not pd.api.types.is_datetime64_any_dtype(times):
        times = pd.to_datetime(times, errors="coerce", format="mixed", utc=True)
    if times.isna().any():
        raise SplitError(f"split.time_column '{time_column}': {int(times.isna().sum())} of {len(df)} rows have no "
                         "valid time; fill or drop them, or use split.method: random")
    return np.argsort(times.to_numpy(), kind="stable")


def _time_holdout(df: pd.DataFrame, keys: np.ndarray, time_column: Optional[str], n_test: int) -> np.ndarray:
    """Boolean mask of the `n_test` most recent rows (table order without a time column), minus repeats of
    training rows."""
    order = _time_order(df, time_column)
    held = np.zeros(len(df), dtype=bool)
    held[order[len(df) - n_test:]] = True
    return held & ~np.isin(keys, keys[~held])


def split_frame(
    df: pd.DataFrame,
    target: str,
    task: str,
    test_size: float = 0.2,
    seed: int = 42,
    method: str = "random",
    time_column: Optional[str] = None,
    holdout_rows: Optional[int] = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Returns (train, holdout).

    random: seeded, stratified by `target` for classification. time: the most recent `holdout_rows` (or
    `test_size` share) by `time_column` are held out; without a time column the table order is taken as time.
    """
    if not 0.0 < test_size < 1.0:
        raise SplitError(f"split.test_size: expected a fraction between 0 and 1, got {test_size}")
    if method not in METHODS:
        raise SplitError(f"split.method: expected one of {', '.join(METHODS)}, got {method!r}")
    keys = row_fingerprints(df)
    if method == "random":
        held = _random_holdout(df, keys, target, task, test_size, seed)
    else:
        n_test = int(holdout_rows) if holdout_rows is not None else int(round(len(df) * test_size))
        _check_size(len(df), n_test, test_size if holdout_rows is None else f"{test_size} (holdout_rows={n_test})")
        held = _time_holdout(df, keys, time_column, n_test)
        if task != "regression":
            for side, mask in (("holdout", held), ("training", ~held)):
                if df.loc[mask, target].nunique() < 2:
                    raise SplitError(f"time split: the {side} rows hold a single class of '{target}'; "
                                     "hold out more rows or use split.method: random")
    order = np.arange(len(df)) if method == "random" else _time_order(df, time_column)
    train, holdout = df.iloc[order[~held[order]]], df.iloc[order[held[order]]]
    return train.reset_index(drop=True), holdout.reset_index(drop=True)


def first_holdout_time(holdout: pd.DataFrame, time_column: Optional[str]) -> Optional[str]:
    """The earliest time in the holdout, as text (None without a time column)."""
    if time_column is None or holdout.empty:
        return None
    return str(pd.to_datetime(holdout[time_column], format="mixed").min())


def calibration_rows(train: pd.DataFrame, target: str, task: str, share: float, seed: int) -> np.ndarray:
    """Boolean mask of the `share` of training rows set aside to fit a calibrator: seeded, stratified, repeats of a
    row on one side (as the holdout split)."""
    if not 0.0 < share < 1.0:
        raise SplitError(f"training.calibration.share: expected a fraction between 0 and 1, got {share}")
    try:
        return _random_holdout(train, row_fingerprints(train), target, task, share, seed)
    except SplitError as exc:
        raise SplitError(f"calibration rows (training.calibration.share={share}): {exc}") from None
