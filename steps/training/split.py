"""Seeded train/holdout split, stratified for classification."""

from __future__ import annotations

import pandas as pd
from sklearn.model_selection import train_test_split


class SplitError(ValueError):
    """The data cannot be split as configured."""


def split_frame(
    df: pd.DataFrame, target: str, task: str, test_size: float = 0.2, seed: int = 42
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Returns (train, holdout). Classification splits keep the class proportions of `target`."""
    if not 0.0 < test_size < 1.0:
        raise SplitError(f"split.test_size: expected a fraction between 0 and 1, got {test_size}")
    stratify = None
    if task != "regression":
        counts = df[target].value_counts()
        if counts.min() < 2:
            rare = counts[counts < 2].index.tolist()
            raise SplitError(f"target '{target}': class(es) {rare} have fewer than 2 rows; cannot stratify the split")
        stratify = df[target]
    n_test = int(round(len(df) * test_size))
    if n_test < 1 or len(df) - n_test < 2:
        raise SplitError(f"split.test_size={test_size} leaves no rows for training or holdout ({len(df)} rows)")
    train, holdout = train_test_split(df, test_size=test_size, random_state=seed, stratify=stratify)
    return train.reset_index(drop=True), holdout.reset_index(drop=True)
