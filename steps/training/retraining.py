"""What a retrained challenger learns from, and what it is held out on: plain functions, no ZenML.

The challenger trains on the champion's training rows plus the new labelled rows, except the most recent share of
the new rows (the window in which the champion decayed): those are its holdout. Rows the champion trained on or was
held out on never become new rows, so the recent window is unseen by both models and the champion's holdout stays
unseen by the challenger.
"""

from __future__ import annotations

import dataclasses
from typing import List, Optional

import numpy as np
import pandas as pd

from steps.data.rows import SplitManifest, row_fingerprints


class RetrainingError(ValueError):
    """There is nothing (new) to retrain on."""


@dataclasses.dataclass
class RetrainingData:
    """The table the challenger's training run splits, and how many of its newest rows it must hold out."""

    table: pd.DataFrame
    holdout_rows: int
    n_reference: int
    n_new: int
    n_already_seen: int

    def summary(self) -> str:
        return (f"{self.n_reference} rows the champion trained on + {self.n_new} new labelled rows "
                f"({self.n_already_seen} rows skipped: seen by the champion or repeated); the newest "
                f"{self.holdout_rows} new rows are held out as the recent window")


def new_labelled_rows(batches: List[pd.DataFrame], target: str, columns: List[str],
                      seen: np.ndarray) -> tuple[pd.DataFrame, int]:
    """Labelled rows of `batches` (in arrival order) not in `seen` and not repeated; returns (rows, n skipped)."""
    labelled = [b.loc[b[target].notna()] for b in batches if target in b.columns and b[target].notna().any()]
    if not labelled:
        raise RetrainingError(f"no labelled rows in the last {len(batches)} batch(es): target '{target}' is missing "
                              "or empty; retraining needs ground truth")
    frame = pd.concat(labelled, ignore_index=True)
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise RetrainingError(f"recent batches lack column(s) {absent} of the champion's training data")
    frame = frame[columns]
    keys = row_fingerprints(frame, columns)
    fresh = ~np.isin(keys, seen) & ~pd.Series(keys).duplicated().to_numpy()
    return frame.loc[fresh].reset_index(drop=True), int((~fresh).sum())


def assemble(champion_train: pd.DataFrame, champion_split: SplitManifest, batches: List[pd.DataFrame],
             target: str, holdout_share: float) -> RetrainingData:
    """Champion training rows, then the new rows in arrival order; the newest `holdout_share` of new rows held out."""
    if not 0.0 < holdout_share < 1.0:
        raise RetrainingError(f"retrain.holdout_share: expected a fraction between 0 and 1, got {holdout_share}")
    columns = [str(c) for c in champion_train.columns]
    seen = np.union1d(champion_split.train_keys(), champion_split.holdout_keys())
    new, skipped = new_labelled_rows(batches, target, columns, seen)
    n_hold = int(round(len(new) * holdout_share))
    if n_hold < 1:
        raise RetrainingError(f"only {len(new)} new labelled row(s): too few to hold out a recent window")
    table = pd.concat([champion_train[columns], new], ignore_index=True)
    return RetrainingData(table=table, holdout_rows=n_hold, n_reference=len(champion_train), n_new=len(new),
                          n_already_seen=skipped)
