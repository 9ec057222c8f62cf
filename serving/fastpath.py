"""Apply a fitted preprocessing ColumnTransformer with plain numpy, so serving needs no pandas on the hot path.

A single-row request through `ColumnTransformer.transform(DataFrame)` spends ~2.5 ms in pandas indexing and
input validation; the arithmetic is a few microseconds. `compile_preprocess` reads the fitted parameters of the
steps the project uses (SimpleImputer, StandardScaler, OneHotEncoder) and returns a function computing the same
matrix. Anything else raises `Unsupported`, and the model falls back to the sklearn path. The model class checks
both paths agree on probe rows at load time before it trusts this one.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Sequence

import numpy as np

from serving.schema import BadInput

Columns = Dict[str, List[Any]]


class Unsupported(Exception):
    """The fitted pipeline uses a step or an option this module does not reproduce."""


def _is_nan_marker(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _imputer(step) -> Callable[[np.ndarray], np.ndarray]:
    if step.add_indicator or not _is_nan_marker(step.missing_values):
        raise Unsupported("SimpleImputer with add_indicator or a non-NaN missing_values marker")
    stats = step.statistics_
    if stats.dtype.kind == "f" and np.isnan(stats).any():
        raise Unsupported("SimpleImputer dropped an all-missing column")
    fill = stats.tolist()

    def impute(block: np.ndarray) -> np.ndarray:
        if block.dtype == object:
            for j, value in enumerate(fill):
                column = block[:, j]
                for i, v in enumerate(column):
                    if v is None or v != v:  # JSON null or NaN: both missing, as in sklearn
                        column[i] = value
            return block
        mask = np.isnan(block)
        if mask.any():
            block = np.where(mask, stats.astype(block.dtype), block)
        return block

    return impute


def _scaler(step) -> Callable[[np.ndarray], np.ndarray]:
    mean = step.mean_ if step.with_mean else None
    scale = step.scale_ if step.with_std else None

    def standardize(block: np.ndarray) -> np.ndarray:
        block = np.asarray(block, dtype=np.float64)
        if mean is not None:
            block = block - mean
        if scale is not None:
            block = block / scale
        return block

    return standardize


def _one_hot(step, column_names: Sequence[str]) -> Callable[[np.ndarray], np.ndarray]:
    if step.drop_idx_ is not None or getattr(step, "_infrequent_enabled", False):
        raise Unsupported("OneHotEncoder with drop or infrequent categories")
    lookups = [{c: i for i, c in enumerate(cats.tolist())} for cats in step.categories_]
    offsets = np.cumsum([0] + [len(cats) for cats in step.categories_]).tolist()
    width, strict = offsets[-1], step.handle_unknown == "error"
    dtype = step.dtype

    def encode(block: np.ndarray) -> np.ndarray:
        out = np.zeros((block.shape[0], width), dtype=dtype)
        for j, lookup in enumerate(lookups):
            for i, value in enumerate(block[:, j].tolist()):
                k = lookup.get(value)
                if k is not None:
                    out[i, offsets[j] + k] = 1
                elif strict:
                    raise BadInput(
                        f"column {column_names[j]!r}: unknown category {value!r} "
                        f"(known: {', '.join(map(repr, step.categories_[j].tolist()))})"
                    )
        return out

    return encode


def _branch(transformer, column_names: Sequence[str]) -> Callable[[np.ndarray], np.ndarray]:
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    steps = [s for _, s in transformer.steps] if isinstance(transformer, Pipeline) else [transformer]
    funcs = []
    for step in steps:
        if step is None or step == "passthrough":
            continue
        if type(step) is SimpleImputer:
            funcs.append(_imputer(step))
        elif type(step) is StandardScaler:
            funcs.append(_scaler(step))
        elif type(step) is OneHotEncoder:
            funcs.append(_one_hot(step, column_names))
        else:
            raise Unsupported(f"step {type(step).__name__}")

    def run(block: np.ndarray) -> np.ndarray:
        for func in funcs:
            block = func(block)
        return np.asarray(block, dtype=np.float64)

    return run


def compile_preprocess(preprocess, input_names: Sequence[str]) -> Callable[[Columns, int], np.ndarray]:
    """Return f(columns, n_rows) -> the dense matrix `preprocess.transform(DataFrame(columns))` would give."""
    from sklearn.compose import ColumnTransformer

    if type(preprocess) is not ColumnTransformer:
        raise Unsupported(f"preprocessing step {type(preprocess).__name__}")
    feature_names = list(getattr(preprocess, "feature_names_in_", input_names))
    branches = []
    for name, transformer, columns in preprocess.transformers_:
        if transformer == "drop" or (hasattr(columns, "__len__") and len(columns) == 0):
            continue
        names = [feature_names[c] if isinstance(c, (int, np.integer)) else c for c in columns]
        if any(not isinstance(c, str) for c in names):
            raise Unsupported(f"branch {name!r} selects columns by mask or callable")
        if transformer == "passthrough":
            raise Unsupported(f"passthrough branch {name!r}")
        branches.append((names, _branch(transformer, names), _is_numeric_branch(transformer)))

    def transform(cols: Columns, n_rows: int) -> np.ndarray:
        blocks = []
        for names, run, numeric in branches:
            dtype = np.float64 if numeric else object
            block = np.empty((n_rows, len(names)), dtype=dtype)
            for j, name in enumerate(names):
                block[:, j] = cols[name]
            blocks.append(run(block))
        return np.hstack(blocks) if len(blocks) > 1 else blocks[0]

    return transform


def _is_numeric_branch(transformer) -> bool:
    """A branch is numeric unless it one-hot encodes or imputes with a most-frequent/constant string."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    steps = [s for _, s in transformer.steps] if isinstance(transformer, Pipeline) else [transformer]
    for step in steps:
        if isinstance(step, OneHotEncoder):
            return False
        stats = getattr(step, "statistics_", None)
        if stats is not None and stats.dtype == object:
            return False
    return True
