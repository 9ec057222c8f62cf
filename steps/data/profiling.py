"""Fast whylogs profiling: typed numpy columns, row chunks across cores, merged profiles.

Why not one `why.log(df)` call: whylogs splits every pandas column with per-element Python lambdas (type masks,
`np.isinf` per value), which is ~90% of its time on a 1M-row frame. For columns whose pandas dtype already tells
the type (numpy float/int, object columns holding only strings) we build whylogs' own `PreprocessedColumn` with
vectorized numpy and feed it to the same metric updates, so the sketches see exactly the values whylogs would have
given them; low-cardinality string columns update their frequent-items and HLL sketches once per distinct value
(weighted), which leaves both sketches exactly as row-by-row updates would. Other dtypes (bool, mixed objects) go
through whylogs' regular path. Large frames are cut into row chunks profiled in worker processes; whylogs
profiles are mergeable sketches, so counts are identical to a single pass.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
import pandas as pd
from pandas.api import types as pdt

from core.whylogs_env import why  # noqa: F401  (applies the numpy/analytics shims before whylogs.core)
from whylogs.core import DatasetProfile, DatasetProfileView, DatasetSchema
from whylogs.core.preprocessing import NumpyView, PreprocessedColumn

__all__ = ["profile_frame", "save_profile", "load_profile", "profile_counts"]

# The frame being profiled by a pool of forked workers: children inherit it, so chunks are never pickled.
_SHARED_FRAME: Optional[pd.DataFrame] = None


def _preprocessed(series: pd.Series) -> Optional[PreprocessedColumn]:
    """The `PreprocessedColumn` whylogs would build for `series`, computed vectorized; None if the dtype needs
    whylogs' per-value inspection."""
    dtype = series.dtype
    if not isinstance(dtype, np.dtype):  # pandas extension dtypes (category, nullable ints, string[pyarrow]...)
        return None
    col = PreprocessedColumn()
    col.original = series
    col.len = len(series)
    if dtype.kind == "f":
        values = series.to_numpy(dtype=float)
        nan = np.isnan(values)
        n_nan = int(nan.sum())
        if n_nan:
            values = values[~nan]
        # whylogs counts a float NaN as both null and nan; inf stays a value (it reaches the sketches).
        col.null_count = col.nan_count = n_nan
        col.inf_count = int(np.isinf(values).sum())
        col.numpy = NumpyView(floats=values)
        return col
    if dtype.kind in "iu":
        col.numpy = NumpyView(ints=series.to_numpy().astype(int, copy=False))
        return col
    if dtype.kind == "M":
        # whylogs keeps timestamps as opaque objects (types/object); NaT is null but not nan.
        null = series.isna().to_numpy()
        col.null_count = int(null.sum())
        if col.null_count < col.len:
            values = series[~null] if col.null_count else series
            col.numpy = NumpyView(floats=np.array([], dtype=float), ints=np.array([], dtype=int))
            col.pandas.strings = values.iloc[:0]
            col.pandas.tensors = pd.Series([], dtype=object)
            col.pandas.objs = values
        return col
    if dtype == object and pdt.infer_dtype(series, skipna=True) in ("string", "empty"):
        null = series.isna().to_numpy()
        nulls = series.to_numpy()[null]
        col.null_count = len(nulls)
        # Mirrors whylogs: a null that is a float NaN also counts as nan; None does not.
        col.nan_count = sum(1 for v in nulls if isinstance(v, float))
        if col.null_count == col.len:
            return col
        strings = series[~null] if col.null_count else series
        col.numpy = NumpyView(floats=np.array([], dtype=float), ints=np.array([], dtype=int))
        col.pandas.strings = strings
        col.pandas.tensors = pd.Series([], dtype=object)
        col.pandas.objs = strings.iloc[:0]
        return col
    return None


# Up to this many distinct strings, a column's frequent-items sketch is exact (whylogs' default lg_max_k=10 holds
# 768), so weighted updates per distinct value give the same counts as one update per row.
_MAX_WEIGHTED_CATEGORIES = 512
_STANDARD_STRING_METRICS = {"counts", "types", "distribution", "cardinality", "frequent_items"}


def _track_categories(column: Any, prepared: PreprocessedColumn) -> bool:
    """Updates a low-cardinality string column from its value counts instead of row by row; False (nothing done)
    when the column is not a plain categorical one."""
    strings = prepared.pandas.strings
    metrics = column._metrics
    if strings is None or set(metrics) != _STANDARD_STRING_METRICS:
        return False
    if strings.iloc[:10_000].nunique() > _MAX_WEIGHTED_CATEGORIES // 2:  # ids, free text: not categories
        return False
    counts = strings.value_counts(sort=False)
    if len(counts) > _MAX_WEIGHTED_CATEGORIES:
        return False
    for name, metric in metrics.items():
        if name == "frequent_items":
            sketch, size = metric.frequent_strings.value, metric.max_frequent_item_size
            for value, weight in counts.items():
                sketch.update(value[:size], int(weight))
            column._success_count += len(strings)
        elif name == "cardinality":
            metric.hll.value.update_str_list(counts.index.tolist())  # HLL ignores repeats: distinct values suffice
            column._success_count += len(strings)
        else:  # counts, types, distribution only need the lengths and null counts
            column._success_count += metric.columnar_update(prepared).successes
    return True


def _profile_single(df: pd.DataFrame) -> DatasetProfileView:
    """One pass over `df` in this process, with the same schema and metrics `why.log(df)` would use."""
    schema = DatasetSchema()
    schema.resolve(pandas=df.head(0))
    profile = DatasetProfile(schema=schema)
    for name in df.columns:
        column = profile._columns[name]
        series = df[name]
        prepared = _preprocessed(series)
        if prepared is None:
            column.track_column(series)
        elif not _track_categories(column, prepared):
            # Same metric updates as ColumnProfile.track_column, minus whylogs' per-value type inspection.
            column._process_extracted_column(prepared)
    return profile.view()


def _profile_shared_chunk(bounds: Tuple[int, int]) -> bytes:
    assert _SHARED_FRAME is not None, "worker started without a frame to profile"
    start, stop = bounds
    return _profile_single(_SHARED_FRAME.iloc[start:stop]).serialize()


def _profile_pickled_chunk(chunk: pd.DataFrame) -> bytes:
    return _profile_single(chunk).serialize()


def _ordered(view: DatasetProfileView, order: List[str]) -> DatasetProfileView:
    """whylogs merges columns through a set; put them back in the frame's order so output is reproducible."""
    columns = view.get_columns()
    return DatasetProfileView(
        columns={name: columns[name] for name in order if name in columns},
        dataset_timestamp=view.dataset_timestamp,
        creation_timestamp=view.creation_timestamp,
        metrics=view._metrics,
        metadata=view.metadata,
    )


def profile_frame(df: pd.DataFrame, *, n_jobs: Optional[int] = None, chunk_rows: int = 200_000) -> DatasetProfileView:
    """Profiles `df` with whylogs' standard metrics.

    Frames up to `chunk_rows` rows (or `n_jobs=1`) are profiled in one pass here; bigger frames are split into
    `chunk_rows`-row chunks profiled by up to `n_jobs` worker processes (default: all cores) and merged. Counts,
    types, frequent items and cardinality equal a single pass; KLL quantiles are equal within sketch error.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"profile_frame expects a pandas DataFrame, got {type(df).__name__}")
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
    if n_jobs is not None and n_jobs < 1:
        raise ValueError(f"n_jobs must be >= 1 or None (all cores), got {n_jobs}")
    if df.columns.duplicated().any():
        dupes = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
        raise ValueError(f"cannot profile a frame with duplicate column names: {dupes}")

    workers = n_jobs or os.cpu_count() or 1
    n_chunks = -(-len(df) // chunk_rows)
    if workers == 1 or n_chunks <= 1:
        return _profile_single(df)

    workers = min(workers, n_chunks)
    # Equal chunks, as many as a whole number of rounds over the workers: no core idles on a short last chunk.
    n_chunks = -(-n_chunks // workers) * workers
    size = -(-len(df) // n_chunks)
    bounds = [(start, min(start + size, len(df))) for start in range(0, len(df), size)]
    global _SHARED_FRAME
    if "fork" in get_all_start_methods():
        _SHARED_FRAME = df
        try:
            with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
                blobs = list(pool.map(_profile_shared_chunk, bounds))
        finally:
            _SHARED_FRAME = None
    else:  # spawn-only platforms: chunks travel pickled
        with ProcessPoolExecutor(workers) as pool:
            blobs = list(pool.map(_profile_pickled_chunk, (df.iloc[a:b] for a, b in bounds)))

    merged = DatasetProfileView.deserialize(blobs[0])
    for blob in blobs[1:]:
        merged = merged.merge(DatasetProfileView.deserialize(blob))
    return _ordered(merged, [str(c) for c in df.columns])


def save_profile(view: DatasetProfileView, path: Union[str, Path]) -> Path:
    """Writes `view` in whylogs' binary format (the same bytes `view.serialize()` gives); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(view.serialize())
    return path


def load_profile(path: Union[str, Path]) -> DatasetProfileView:
    """Reads a profile written by `save_profile` (or any whylogs binary profile)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no whylogs profile at {path}")
    return DatasetProfileView.deserialize(path.read_bytes())


# Exact figures only. The cardinality estimate is left out on purpose: a single-stream HLL sketch uses the HIP
# estimator, a merged one the composite estimator, so they agree only within HLL error (~1%) on high cardinality.
_COUNT_METRICS = ("counts/", "types/", "distribution/n", "ints/")


def profile_counts(view: DatasetProfileView) -> Dict[str, Dict[str, float]]:
    """The exact figures of a profile per column: counts, types, distribution n, int min/max and frequent-item
    counts. Two profilings of the same data, chunked or not, must agree on all of them."""
    summary = view.to_pandas()
    out: Dict[str, Dict[str, float]] = {}
    for name, row in summary.iterrows():
        figures = {k: row[k] for k in summary.columns if k.startswith(_COUNT_METRICS) and pd.notna(row[k])}
        fi = view.get_column(name).get_metric("frequent_items")
        if fi is not None:
            for item in fi.to_summary_dict()["frequent_strings"]:
                figures[f"frequent_items/{item.value}"] = item.est
        out[str(name)] = figures
    return out
