"""Feature and prediction drift from two saved whylogs profiles, gated on Hellinger distance.

Everything is computed from the profiles' sketches (KLL for numbers, frequent items for categories), never from
raw rows, so the same two saved profiles always give the same report. whylogs' own KS / chi-square results are
kept beside each score as supporting evidence only: KS p-values from sketches vary between profilings of the same
data, which makes them a poor gate.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, List, Optional, Sequence

import numpy as np
import pandas as pd

from materializers.report_base import Report
from steps.monitoring.histograms import (  # noqa: F401  (NUMERIC, CATEGORICAL, OTHER_BUCKET re-exported)
    CATEGORICAL,
    NUMERIC,
    OTHER_BUCKET,
    categorical_histograms,
    column_kind,
    hellinger,
    non_null,
    numeric_histograms,
)
from core.whylogs_env import why  # noqa: F401  (applies the numpy/analytics shims before whylogs.core)
from whylogs.core import DatasetProfileView

DEFAULT_NUMERIC_BINS = 10
PREDICTION_COLUMN = "prediction"


@dataclass
class ColumnDrift:
    """Drift of one column: the gating Hellinger score, whylogs' test as evidence, and the compared histograms."""

    column: str
    kind: str
    hellinger: float
    threshold: float
    drifted: bool
    unseen_categories: List[str] = field(default_factory=list)
    evidence_algorithm: Optional[str] = None
    evidence_pvalue: Optional[float] = None
    evidence_statistic: Optional[float] = None
    # Numeric: [left, right] per bin; categorical: the category names (OTHER_BUCKET for the sketch's remainder).
    bins: List[Any] = field(default_factory=list)
    reference: List[float] = field(default_factory=list)
    current: List[float] = field(default_factory=list)
    reference_count: int = 0
    current_count: int = 0
    note: str = ""


@dataclass
class DriftReport(Report):
    """Per-column drift and the dataset-level verdict. `detected` is True when any gated column drifted."""

    title: ClassVar[str] = "Drift report"

    columns: List[ColumnDrift]
    drift_share: float
    drifted_columns: List[str]
    detected: bool
    default_threshold: float = 0.1
    max_hellinger: float = 0.0

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "DriftReport":
        data = dict(data)
        data["columns"] = [c if isinstance(c, ColumnDrift) else ColumnDrift(**c) for c in data["columns"]]
        return cls(**data)

    def column(self, name: str) -> ColumnDrift:
        for entry in self.columns:
            if entry.column == name:
                return entry
        raise KeyError(f"column {name!r} not in drift report; columns: {[c.column for c in self.columns]}")

    def scores(self) -> Dict[str, float]:
        return {c.column: c.hellinger for c in self.columns}

    def to_html(self) -> str:
        from steps.monitoring.drift_html import drift_report_html

        return drift_report_html(self)


def hellinger_from_views(reference_view: DatasetProfileView, current_view: DatasetProfileView, column: str) -> float:
    """Hellinger distance (0 same .. 1 disjoint) of `column` between two profiles; see `compare_column`."""
    return compare_column(reference_view, current_view, column, threshold=1.0).hellinger


def compare_column(
    reference_view: DatasetProfileView,
    current_view: DatasetProfileView,
    column: str,
    *,
    threshold: float,
    n_bins: int = DEFAULT_NUMERIC_BINS,
) -> ColumnDrift:
    """Compares one column. Numeric: both KLL sketches on common bins cut at the reference's quantiles.
    Categorical: frequent-item shares; a category absent from a complete reference list is 'unseen' and always
    marks the column drifted."""
    ref = reference_view.get_column(column)
    if ref is None:
        known = sorted(reference_view.get_columns())
        raise KeyError(f"column {column!r} is not in the reference profile; it has {known}")
    cur = current_view.get_column(column)
    kind = column_kind(ref)
    ref_n = non_null(ref)
    if cur is None:
        return ColumnDrift(column, kind, 1.0, threshold, True, reference_count=ref_n,
                           note="missing from the current batch")
    cur_n = non_null(cur)
    if ref_n == 0:
        return ColumnDrift(column, kind, 0.0, threshold, False, reference_count=0, current_count=cur_n,
                           note="reference has no values: nothing to compare")
    if cur_n == 0:
        return ColumnDrift(column, kind, 1.0, threshold, True, reference_count=ref_n, current_count=0,
                           note="no non-null values in the current batch")
    unseen: List[str] = []
    if kind == NUMERIC and column_kind(cur) == NUMERIC:
        bins, p, q = numeric_histograms(ref, cur, n_bins)
    else:
        bins, p, q, unseen = categorical_histograms(ref, cur)
    score = round(hellinger(p, q), 12)  # rounding keeps float summation noise out of threshold decisions
    drifted = score > threshold or bool(unseen)
    note = f"unseen categories: {unseen}" if unseen else ""
    if kind == NUMERIC and column_kind(cur) != NUMERIC:
        kind, note = CATEGORICAL, "numeric in the reference, non-numeric values in the current batch"
        drifted = True
    return ColumnDrift(column, kind, score, threshold, drifted, unseen, bins=bins, reference=p, current=q,
                       reference_count=ref_n, current_count=cur_n, note=note)


def _whylogs_evidence(reference_view: DatasetProfileView, current_view: DatasetProfileView) -> Dict[str, dict]:
    from whylogs.viz.drift.column_drift_algorithms import calculate_drift_scores

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # whylogs warns for every column it cannot test (e.g. empty sketches)
        scores = calculate_drift_scores(target_view=current_view, reference_view=reference_view, with_thresholds=True)
    return {name: score for name, score in scores.items() if score}


def compute_drift(
    reference_view: DatasetProfileView,
    current_view: DatasetProfileView,
    *,
    thresholds: Optional[Dict[str, float]] = None,
    default_threshold: float = 0.1,
    columns: Optional[List[str]] = None,
    n_bins: int = DEFAULT_NUMERIC_BINS,
) -> DriftReport:
    """Drift of `columns` (default: every reference column) of `current_view` against `reference_view`.

    A column drifts when its Hellinger distance exceeds its threshold (`thresholds[column]`, else
    `default_threshold`) or when it shows a category the reference never had.
    """
    reference_columns = list(reference_view.get_columns())
    names = list(columns) if columns is not None else reference_columns
    missing = [c for c in names if c not in reference_columns]
    if missing:
        raise ValueError(f"columns {missing} are not in the reference profile; it has {reference_columns}")
    thresholds = dict(thresholds or {})
    stray = sorted(set(thresholds) - set(names))
    if stray:
        raise ValueError(f"drift thresholds given for columns that are not compared: {stray}; compared: {names}")
    for name, value in {**thresholds, "default_threshold": default_threshold}.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 < float(value) <= 1.0:
            raise ValueError(f"drift threshold for {name!r}: expected a number in (0, 1], got {value!r}")
    if n_bins < 2:
        raise ValueError(f"n_bins must be >= 2, got {n_bins}")

    evidence = _whylogs_evidence(reference_view, current_view)
    entries = []
    for name in names:
        entry = compare_column(reference_view, current_view, name,
                               threshold=float(thresholds.get(name, default_threshold)), n_bins=n_bins)
        test = evidence.get(name)
        if test:
            entry.evidence_algorithm = test.get("algorithm")
            entry.evidence_pvalue = _finite(test.get("pvalue"))
            entry.evidence_statistic = _finite(test.get("statistic"))
        entries.append(entry)
    drifted = [e.column for e in entries if e.drifted]
    return DriftReport(
        columns=entries,
        drift_share=len(drifted) / len(entries) if entries else 0.0,
        drifted_columns=drifted,
        detected=bool(drifted),
        default_threshold=float(default_threshold),
        max_hellinger=max((e.hellinger for e in entries), default=0.0),
    )


def _finite(value: Any) -> Optional[float]:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def prediction_frame(predictions: Any, probabilities: Any = None, classes: Optional[Sequence[Any]] = None,
                     task: str = "classification") -> pd.DataFrame:
    """A frame for prediction drift: `prediction` (class labels as strings, so they compare as categories) and,
    for classification with probabilities, one `proba_<class>` column per class."""
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
    pred = np.asarray(predictions)
    frame = pd.DataFrame({PREDICTION_COLUMN: pred.astype(str).astype(object) if task == "classification"
                          else pred.astype(float)})
    if probabilities is not None and task == "classification":
        proba = np.asarray(probabilities, dtype=float)
        if proba.ndim != 2 or proba.shape[0] != len(pred):
            raise ValueError(f"probabilities: expected shape ({len(pred)}, n_classes), got {proba.shape}")
        names = list(classes) if classes is not None else list(range(proba.shape[1]))
        if len(names) != proba.shape[1]:
            raise ValueError(f"classes: expected {proba.shape[1]} names, got {len(names)}")
        for i, name in enumerate(names):
            frame[f"proba_{name}"] = proba[:, i]
    return frame


__all__ = ["ColumnDrift", "DriftReport", "compute_drift", "compare_column", "hellinger_from_views",
           "prediction_frame", "column_kind"]
