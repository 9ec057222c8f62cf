"""Row fingerprints and split manifests: which rows a model trained on and which it was compared on.

A row's fingerprint is a 64-bit hash of its values in canonical form (numbers as float64, times as nanoseconds,
everything else as text), so the same record hashes the same whether it came from the generator, a CSV or a parquet
round trip. A model version's `SplitManifest` holds the fingerprints of its training and holdout rows; the deployment
gate uses them to compare models only on rows that neither trained on. Rows set aside to calibrate the model are
training rows (the model learned from them), recorded once more as the calibration subset.
"""

from __future__ import annotations

import base64
import dataclasses
import html
from typing import Iterable, List, Optional

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from materializers.report_base import Report, html_page

_MISSING_TEXT = "\x00<missing>"


class RowLeakError(ValueError):
    """Rows a model trained on were about to be used to evaluate it."""


def _canonical(col: pd.Series) -> pd.Series:
    if ptypes.is_bool_dtype(col) or (ptypes.is_numeric_dtype(col) and not ptypes.is_complex_dtype(col)
                                     and not isinstance(col.dtype, pd.CategoricalDtype)):
        return col.astype("float64")
    if ptypes.is_datetime64_any_dtype(col):
        if getattr(col.dt, "tz", None) is not None:
            col = col.dt.tz_convert("UTC").dt.tz_localize(None)
        return pd.Series(col.to_numpy(dtype="datetime64[ns]").view("int64"), index=col.index)
    return col.astype(object).where(col.notna(), _MISSING_TEXT).astype(str)


def row_fingerprints(df: pd.DataFrame, columns: Optional[Iterable[str]] = None) -> np.ndarray:
    """uint64 fingerprint of every row over `columns` (default: all), independent of column order and dtype width."""
    names = sorted(str(c) for c in (df.columns if columns is None else columns))
    absent = [c for c in names if c not in df.columns]
    if absent:
        raise RowLeakError(f"cannot fingerprint rows: column(s) {absent} missing; the table has "
                           f"{', '.join(map(str, df.columns))}")
    if df.empty:
        return np.zeros(0, dtype=np.uint64)
    canonical = pd.DataFrame({c: _canonical(df[c]).to_numpy() for c in names})
    return pd.util.hash_pandas_object(canonical, index=False).to_numpy(dtype=np.uint64)


def _pack(keys: np.ndarray) -> str:
    return base64.b64encode(np.unique(keys).astype("<u8").tobytes()).decode("ascii")


def _unpack(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<u8").astype(np.uint64)


@dataclasses.dataclass
class SplitManifest(Report):
    """How a model version's data was split, and the fingerprints of its training and holdout rows."""

    title = "Split manifest"
    method: str
    columns: List[str]
    n_train: int
    n_holdout: int
    train_rows: str  # base64 of the sorted unique uint64 fingerprints
    holdout_rows: str
    time_column: Optional[str] = None
    cutoff: Optional[str] = None  # the first held-out time (time split)
    notes: List[str] = dataclasses.field(default_factory=list)
    # The training rows set aside to fit the calibrator (a subset of train_rows; empty without calibration).
    n_calibration: int = 0
    calibration_rows: str = ""

    @classmethod
    def build(cls, train: pd.DataFrame, holdout: pd.DataFrame, method: str, time_column: Optional[str] = None,
              cutoff: Optional[str] = None, notes: Optional[List[str]] = None,
              calibration: Optional[np.ndarray] = None) -> "SplitManifest":
        """Fingerprints both sides; raises RowLeakError if any row is on both (a split must never allow it).
        `calibration`: boolean mask of the training rows set aside for calibration."""
        columns = sorted(str(c) for c in train.columns)
        train_keys, holdout_keys = row_fingerprints(train, columns), row_fingerprints(holdout, columns)
        shared = np.intersect1d(train_keys, holdout_keys)
        if len(shared):
            raise RowLeakError(f"{len(shared)} holdout row(s) are also training rows; the split is not disjoint")
        calibration = np.zeros(len(train), dtype=bool) if calibration is None else np.asarray(calibration, bool)
        if len(calibration) != len(train):
            raise ValueError(f"calibration mask: expected {len(train)} values (one per training row), "
                             f"got {len(calibration)}")
        if np.isin(train_keys[calibration], train_keys[~calibration]).any():
            raise RowLeakError("a calibration row repeats a row the model is fitted on; set repeats aside together")
        return cls(method=method, columns=columns, n_train=len(train), n_holdout=len(holdout),
                   train_rows=_pack(train_keys), holdout_rows=_pack(holdout_keys), time_column=time_column,
                   cutoff=cutoff, notes=list(notes or []), n_calibration=int(calibration.sum()),
                   calibration_rows=_pack(train_keys[calibration]) if calibration.any() else "")

    def train_keys(self) -> np.ndarray:
        """Every row the model learned from: fitted on or calibrated on."""
        return _unpack(self.train_rows)

    def calibration_keys(self) -> np.ndarray:
        return _unpack(self.calibration_rows)

    def calibration_mask(self, train: pd.DataFrame) -> np.ndarray:
        """Which rows of the training set `train` are set aside for calibration."""
        if not self.n_calibration:
            return np.zeros(len(train), dtype=bool)
        return np.isin(row_fingerprints(train, self.columns), self.calibration_keys())

    def holdout_keys(self) -> np.ndarray:
        return _unpack(self.holdout_rows)

    def to_html(self) -> str:
        time = (f"; time column <code>{html.escape(str(self.time_column))}</code>, held out from "
                f"{html.escape(str(self.cutoff))}" if self.method == "time" else "")
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        calibration = (f" {self.n_calibration} of the training rows are set aside to calibrate the model (never "
                       "fitted on)." if self.n_calibration else "")
        body = (f"<p>{html.escape(self.method)} split{time}: <b>{self.n_train}</b> training rows, "
                f"<b>{self.n_holdout}</b> holdout rows, no row on both sides (checked by fingerprint over "
                f"{len(self.columns)} columns).{calibration}</p><ul>{notes}</ul>")
        return html_page(self.title, body)


def unseen_rows(frame: pd.DataFrame, seen: np.ndarray, columns: List[str]) -> tuple[pd.DataFrame, int]:
    """The rows of `frame` whose fingerprint is not in `seen`, and how many were removed."""
    keys = row_fingerprints(frame, columns)
    keep = ~np.isin(keys, seen)
    return frame.loc[keep].reset_index(drop=True), int((~keep).sum())


def assert_unseen(frame: pd.DataFrame, seen: np.ndarray, columns: List[str], what: str) -> None:
    """Raises RowLeakError naming `what` if any row of `frame` is in `seen`."""
    _, n_seen = unseen_rows(frame, seen, columns)
    if n_seen:
        raise RowLeakError(f"{what}: {n_seen} of {len(frame)} row(s) were seen in training")
