"""Decides what a table's columns are for: the learning task, which columns are features, and why others are not.

Everything here is inferred from the training table once and recorded in a `FeaturePlan`; the serving signature is
exactly `plan.features`, so identifiers and timestamps never reach the model and cannot be required at serving time.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import ClassVar, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from materializers.report_base import Report, html_page
from steps.data.sources import DataSourceError

TASKS = ("binary", "multiclass", "regression")
MAX_CLASSES = 100  # more distinct labels than this is almost always a mis-chosen target
MAX_INTEGER_CLASSES = 20  # integer targets with more levels are treated as counts (regression)
MAX_CODE_LEVELS = 5  # integer columns with at most this many values are codes (categorical), not quantities
MAX_CATEGORY_FRACTION = 0.5  # string columns with more distinct values than this fraction of rows are not categories
TEXT_MIN_CHARS = 30
_ID_NAME = re.compile(r"(^|_)(id|uuid|guid|key)$|^id_|Id$|ID$", re.IGNORECASE)
_DATE_LIKE = re.compile(r"^\s*\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?\s*$")
_SAMPLE = 10_000  # string heuristics look at a fixed-size, deterministic sample: fast on 1M rows
MOSTLY_EMPTY = "mostly empty"  # how a reason for dropping a column over the null limit starts
REQUESTED_DROP = "dropped on request (--drop / data.drop_columns)"
NULL_LIMIT_KEY = "validation.max_null_fraction"  # the training-config key of that limit, named in messages


class TargetError(DataSourceError):
    """The target column cannot support the requested (or any) learning task."""


def _show(value: object) -> str:
    """repr of a value without numpy's type wrapper; whole floats as ints (a CSV int column with gaps is float)."""
    value = value.item() if isinstance(value, np.generic) else value
    return repr(int(value) if isinstance(value, float) and value.is_integer() else value)


def _integer_valued(values: pd.Series) -> bool:
    if ptypes.is_integer_dtype(values) or ptypes.is_bool_dtype(values):
        return True
    if ptypes.is_float_dtype(values):
        finite = values.to_numpy(dtype=float)
        return bool(np.all(np.isfinite(finite)) and np.all(finite == np.round(finite)))
    return False


def detect_task(y: pd.Series, requested: Optional[str] = None) -> str:
    """Returns "binary", "multiclass" or "regression" for target `y`, checking a requested task against the data."""
    name = y.name if y.name is not None else "target"
    values = y.dropna()
    if values.empty:
        raise TargetError(
            f"target {name!r} has no values: all {len(y)} rows are missing; pass --target with a labelled column"
        )
    n_classes = int(values.nunique())
    if n_classes < 2:
        raise TargetError(
            f"target {name!r} has a single value ({_show(values.iloc[0])}) in all {len(values)} labelled rows: "
            "nothing to learn; pick another --target or add rows of the other class(es)"
        )
    numeric = ptypes.is_numeric_dtype(values) and not ptypes.is_bool_dtype(values)
    discrete = not numeric or _integer_valued(values)
    if requested in (None, "", "auto"):
        if n_classes == 2:
            return "binary"
        if not numeric:
            task = "multiclass"
        else:
            task = "multiclass" if discrete and n_classes <= MAX_INTEGER_CLASSES else "regression"
    elif requested not in TASKS:
        raise TargetError(f"unknown task {requested!r}; expected one of: auto, {', '.join(TASKS)}")
    else:
        task = requested
    if task == "regression" and not numeric:
        raise TargetError(
            f"target {name!r} is not numeric (dtype {y.dtype}, e.g. {_show(values.iloc[0])}): cannot do regression; "
            "use --task binary or --task multiclass"
        )
    if task == "binary" and n_classes != 2:
        raise TargetError(f"target {name!r} has {n_classes} classes, binary needs exactly 2; use --task multiclass")
    if task == "multiclass":
        if n_classes == 2:
            raise TargetError(f"target {name!r} has exactly 2 classes: use --task binary, not multiclass")
        if not discrete:
            raise TargetError(
                f"target {name!r} holds continuous values ({n_classes} distinct non-integers): use --task regression"
            )
        if n_classes > MAX_CLASSES:
            raise TargetError(
                f"target {name!r} has {n_classes} distinct values, more than {MAX_CLASSES} classes: "
                "use --task regression if it is a quantity, or choose another --target"
            )
    return task


@dataclass
class FeaturePlan(Report):
    """Which columns feed the model (numeric, categorical) and which are dropped, each with the reason."""

    numeric: List[str]
    categorical: List[str]
    dropped: Dict[str, str]
    target: str
    task: str
    notes: Dict[str, str] = field(default_factory=dict)  # why a kept column got its kind

    title: ClassVar[str] = "Feature plan"

    @property
    def features(self) -> List[str]:
        """Model input columns, in table order: this list is the serving signature."""
        return self.numeric + self.categorical

    def describe(self) -> List[str]:
        """One human-readable line per column decision."""
        lines = [f"{c}: numeric feature ({self.notes.get(c, 'number')})" for c in self.numeric]
        lines += [f"{c}: categorical feature ({self.notes.get(c, 'category')})" for c in self.categorical]
        lines += [f"{c}: dropped ({reason})" for c, reason in self.dropped.items()]
        lines.append(f"{self.target}: target ({self.task})")
        return lines

    def to_html(self) -> str:
        rows = "".join(f"<li>{html.escape(line)}</li>" for line in self.describe())
        return html_page(self.title, f"<p>{len(self.features)} features</p><ul>{rows}</ul>")


def _is_timestamp_strings(sample: pd.Series) -> bool:
    matches = sample.str.match(_DATE_LIKE)
    if matches.mean() < 0.9:
        return False
    parsed = pd.to_datetime(sample[matches], errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= 0.9)


def _classify_strings(name: str, values: pd.Series, n_rows: int) -> Tuple[str, str]:
    """Kind ("categorical" or "drop") and reason for a column of strings or other objects."""
    n_unique = int(values.nunique())
    sample = values.sample(n=min(_SAMPLE, len(values)), random_state=0).astype(str)
    if _is_timestamp_strings(sample):
        return "drop", f"timestamp: text that parses as dates, e.g. {sample.iloc[0]!r}"
    lengths = sample.str.len()
    with_space = sample.str.contains(" ", regex=False).mean()
    if lengths.mean() >= TEXT_MIN_CHARS and with_space >= 0.5:
        return "drop", f"free text: mean {lengths.mean():.0f} characters, {with_space:.0%} contain spaces"
    if n_unique == len(values) and len(values) > 1:
        return "drop", f"identifier: {n_unique} unique values in {n_rows} rows"
    if n_unique > max(MAX_CLASSES, MAX_CATEGORY_FRACTION * len(values)):
        return "drop", f"too many categories: {n_unique} distinct values in {len(values)} non-missing rows"
    return "categorical", f"{n_unique} categories"


def _classify(name: str, col: pd.Series, n_rows: int) -> Tuple[str, str]:
    """Kind ("numeric", "categorical" or "drop") and the reason for one column."""
    values = col.dropna()
    if values.empty:
        return "drop", f"all {n_rows} values missing"
    if ptypes.is_datetime64_any_dtype(col) or isinstance(col.dtype, pd.PeriodDtype):
        return "drop", f"timestamp ({col.dtype}); not used as a feature"
    if ptypes.is_timedelta64_dtype(col):
        return "drop", f"unsupported type {col.dtype}"
    n_unique = int(values.nunique())
    if n_unique == 1:
        return "drop", f"constant: single value {_show(values.iloc[0])}"
    if ptypes.is_bool_dtype(values) or (values.dtype == object and set(values.unique()) <= {True, False}):
        return "categorical", "boolean"
    if ptypes.is_numeric_dtype(values) and not isinstance(col.dtype, pd.CategoricalDtype):
        if ptypes.is_complex_dtype(values):
            return "drop", f"unsupported type {col.dtype}"
        if _integer_valued(values):
            if n_unique == len(values) and (_ID_NAME.search(name) or values.is_monotonic_increasing):
                return "drop", f"identifier: {n_unique} unique values in {n_rows} rows"
            if n_unique <= MAX_CODE_LEVELS:
                return "categorical", f"integer code with {n_unique} values"
            return "numeric", "integer"
        return "numeric", "number"
    if _ID_NAME.search(name) and n_unique >= 0.95 * len(values):
        return "drop", f"identifier: {n_unique} unique values in {n_rows} rows"
    return _classify_strings(name, values, n_rows)


def _mostly_empty(col: pd.Series, max_null_fraction: Optional[float]) -> Optional[str]:
    """The drop reason for a column with more missing values than the limit allows (None if it is within it). An
    all-empty column is left to `_classify`, which says so."""
    n_missing = int(col.isna().sum())
    if max_null_fraction is None or n_missing == len(col) or n_missing <= max_null_fraction * len(col):
        return None
    return (f"{MOSTLY_EMPTY}: {n_missing / len(col):.1%} missing ({n_missing} of {len(col)} rows), above "
            f"{NULL_LIMIT_KEY} {max_null_fraction:g}; raise it to keep the column")


def plan_features(df: pd.DataFrame, target: str, task: str, *, max_null_fraction: Optional[float] = None,
                  drop_columns: Sequence[str] = ()) -> FeaturePlan:
    """Classifies every non-target column of `df`; raises TargetError if no usable feature is left. A column with
    more than `max_null_fraction` of its values missing is dropped (None: no limit), and so is every column the
    user asked to drop."""
    if target not in df.columns:
        raise TargetError(f"target column {target!r} not in the table; pass --target with one of the columns: "
                          f"{', '.join(map(str, df.columns))}")
    unknown = [c for c in drop_columns if c not in df.columns or c == target]
    if unknown:
        raise TargetError(f"cannot drop {', '.join(map(repr, unknown))}: not a feature column of the table; "
                          f"fix --drop / data.drop_columns (columns: {', '.join(map(str, df.columns))})")
    if task not in TASKS:
        raise TargetError(f"unknown task {task!r}; expected one of: {', '.join(TASKS)}")
    numeric: List[str] = []
    categorical: List[str] = []
    dropped: Dict[str, str] = {}
    notes: Dict[str, str] = {}
    for name in df.columns:
        if name == target:
            continue
        empty = REQUESTED_DROP if name in drop_columns else _mostly_empty(df[name], max_null_fraction)
        kind, reason = ("drop", empty) if empty else _classify(str(name), df[name], len(df))
        if kind == "drop":
            dropped[str(name)] = reason
        else:
            (numeric if kind == "numeric" else categorical).append(str(name))
            notes[str(name)] = reason
    if not numeric and not categorical:
        raise TargetError(_no_features_message(target, dropped, max_null_fraction))
    return FeaturePlan(numeric=numeric, categorical=categorical, dropped=dropped, target=target, task=task,
                       notes=notes)


def _no_features_message(target: str, dropped: Dict[str, str], max_null_fraction: Optional[float]) -> str:
    """Why no column is left to learn from, and what would give the model one."""
    if not dropped:
        return f"no usable feature columns: the table holds only the target {target!r}; add feature columns"
    found = "; ".join(f"{c}: {r}" for c, r in dropped.items())
    advice = "add columns the model can use (numbers or categories), or pick another --target"
    if any(r.startswith(MOSTLY_EMPTY) for r in dropped.values()):
        advice = (f"raise {NULL_LIMIT_KEY} (now {max_null_fraction:g}) in the training config to keep the mostly "
                  f"empty columns, or {advice}")
    return f"no usable feature columns left: {found}. To go on, {advice}"


def prepare_target(df: pd.DataFrame, target: str, task: str) -> Tuple[pd.DataFrame, int]:
    """Drops rows whose target is missing; returns (clean frame with a fresh index, number of rows dropped)."""
    if target not in df.columns:
        raise TargetError(f"target column {target!r} not in the table; pass --target with one of its columns")
    keep = df[target].notna()
    n_dropped = int((~keep).sum())
    if n_dropped == len(df):
        raise TargetError(f"target {target!r} is missing in all {len(df)} rows; pass --target with a labelled column")
    detect_task(df.loc[keep, target], task)  # a single class left after dropping is an error too
    return df.loc[keep].reset_index(drop=True), n_dropped
