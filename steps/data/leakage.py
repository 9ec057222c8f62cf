"""Possible target leakage: a feature that on its own predicts the target almost perfectly.

Such a column is usually recorded after the outcome (a refund issued, a rescue status, the price in another
currency): the model looks excellent offline and fails in production, where the column is not known yet. It is not
dropped automatically (a strong honest feature can look the same); the validation report and the log name it.

The measure is cheap and needs no model: each feature is cut into groups (its categories, or quantile bins of a
number, missing values as a group of their own), the target's rate (or mean) per group is learnt on a seeded 70% of
the rows and scored on the other 30%: ROC AUC for classes (one-vs-rest macro for several), Pearson correlation for a
quantity, where a number's own linear |correlation| with the target counts too. Scoring on held-out rows keeps
columns with many rare values from looking predictive by memorising them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import numpy as np
import pandas as pd

from steps.data.columns import FeaturePlan

THRESHOLD_KEY = "validation.leakage_threshold"  # the training-config key of the warning threshold
MAX_ROWS = 100_000  # a seeded sample is as telling as a million rows and keeps the check well under a second
MIN_HOLDOUT = 20  # fewer held-out rows than this cannot support the verdict: no check
HOLDOUT_SHARE = 0.3
ROWS_PER_BIN = 20
MAX_BINS = 50


@dataclass(frozen=True)
class LeakageFinding:
    """One feature whose single-feature holdout score reached the threshold."""

    column: str
    measure: str  # "ROC AUC" or "|correlation|"
    score: float
    threshold: float

    def message(self, target: str) -> str:
        return (f"possible leakage: column {self.column!r} alone predicts {target!r} with holdout {self.measure} "
                f"{self.score:.3f} (>= {THRESHOLD_KEY} {self.threshold:g}); if its value is only known after the "
                f"outcome, leave it out with `train --drop {self.column}` (data.drop_columns)")


def _groups(col: pd.Series, numeric: bool, train: np.ndarray) -> np.ndarray:
    """Group codes 0..k-1 for every row: categories, or quantile bins learnt on the training rows; missing values
    form the last group."""
    if numeric:
        values = col.to_numpy(dtype=float, na_value=np.nan)
        n_bins = int(np.clip(train.sum() // ROWS_PER_BIN, 2, MAX_BINS))
        fitted = values[train & np.isfinite(values)]
        if fitted.size == 0:
            return np.zeros(len(col), dtype=np.int64)
        edges = np.unique(np.quantile(fitted, np.linspace(0, 1, n_bins + 1)[1:-1]))
        codes = np.searchsorted(edges, values, side="right")
        return np.where(np.isfinite(values), codes, len(edges) + 1)
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    return np.where(codes < 0, len(uniques), codes)


def _group_means(groups: np.ndarray, values: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Per-row prediction: the training mean of `values` in the row's group (the overall mean for a group unseen in
    training)."""
    size = int(groups.max()) + 1
    counts = np.bincount(groups[train], minlength=size)
    sums = np.bincount(groups[train], weights=values[train], minlength=size)
    prior = values[train].mean()
    means = np.where(counts > 0, sums / np.maximum(counts, 1), prior)
    return means[groups]


def _auc(positive: np.ndarray, score: np.ndarray) -> Optional[float]:
    """ROC AUC by ranks (ties count half); None when one class is absent."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = pd.Series(score).rank(method="average").to_numpy()
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _correlation(a: np.ndarray, b: np.ndarray) -> Optional[float]:
    if len(a) < 2 or np.std(a) == 0 or np.std(b) == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def _class_score(groups: np.ndarray, labels: np.ndarray, train: np.ndarray) -> Optional[float]:
    """Holdout ROC AUC of the per-group class rates: the positive class's for two classes, else one-vs-rest macro."""
    classes = np.unique(labels)
    scored = classes[1:] if len(classes) == 2 else classes
    hold = ~train
    aucs = []
    for k in scored:
        is_k = (labels == k).astype(float)
        auc = _auc(is_k[hold] == 1.0, _group_means(groups, is_k, train)[hold])
        if auc is not None:
            aucs.append(auc)
    return float(np.mean(aucs)) if aucs else None


def _quantity_score(col: pd.Series, numeric: bool, groups: np.ndarray, y: np.ndarray, train: np.ndarray
                    ) -> Optional[float]:
    """Holdout correlation of the per-group means with the target; for a number also its own |correlation| (missing
    values at the training median), which bins would blur for a linear leak."""
    hold = ~train
    scores = [_correlation(_group_means(groups, y, train)[hold], y[hold])]
    if numeric:
        values = col.to_numpy(dtype=float, na_value=np.nan)
        finite = np.isfinite(values)
        if (train & finite).any():
            filled = np.where(finite, values, np.median(values[train & finite]))
            linear = _correlation(filled[hold], y[hold])
            scores.append(None if linear is None else abs(linear))
    found = [s for s in scores if s is not None]
    return max(found) if found else None


def single_feature_scores(df: pd.DataFrame, plan: FeaturePlan, seed: int = 0) -> dict:
    """{feature: (measure, holdout score)} of how well each feature alone predicts `plan.target`; empty when the
    table is too small to tell. Rows without a target are ignored."""
    frame = df[df[plan.target].notna()]
    if len(frame) > MAX_ROWS:
        frame = frame.sample(n=MAX_ROWS, random_state=seed)
    n = len(frame)
    if int(n * HOLDOUT_SHARE) < MIN_HOLDOUT:
        return {}
    train = np.ones(n, dtype=bool)
    train[np.random.default_rng(seed).permutation(n)[: int(n * HOLDOUT_SHARE)]] = False
    regression = plan.task == "regression"
    target = frame[plan.target]
    y = target.to_numpy(dtype=float) if regression else pd.factorize(target)[0]
    measure = "|correlation|" if regression else "ROC AUC"
    scores = {}
    for name in plan.features:
        numeric = name in plan.numeric
        groups = _groups(frame[name], numeric, train)
        if regression:
            score = _quantity_score(frame[name], numeric, groups, y, train)
        else:
            score = _class_score(groups, y, train)
        if score is not None:
            scores[name] = (measure, round(score, 4))
    return scores


def find_leaks(df: pd.DataFrame, plan: FeaturePlan, threshold: float, seed: int = 0) -> List[LeakageFinding]:
    """The features whose single-feature holdout score is at least `threshold`, best first."""
    found = [LeakageFinding(name, measure, score, threshold)
             for name, (measure, score) in single_feature_scores(df, plan, seed).items() if score >= threshold]
    return sorted(found, key=lambda f: -f.score)
