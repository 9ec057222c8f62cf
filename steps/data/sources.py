"""Where training data comes from: the built-in generator, a bundled scikit-learn dataset, or a CSV/Parquet file.

Every failure a user can cause (wrong path, wrong extension, empty or broken file, misspelt target) raises
`DataSourceError` with one message that names the problem and what would have been accepted, so the CLI can print
it without a traceback.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pandas as pd

from steps.data import generator

SYNTHETIC = "synthetic"
SKLEARN_PREFIX = "sklearn:"
SKLEARN_TARGET = "target"
FILE_TYPES = (".csv", ".parquet", ".pq")
_NEEDS_ROWS = "--data needs a table with a header row and at least one data row"


class DataSourceError(ValueError):
    """A data source could not be loaded or does not fit the request; the message says why."""


@dataclass
class LoadedDataset:
    """A loaded table with the name of its target column and a description of where it came from."""

    frame: pd.DataFrame
    target: str
    source: str


# Only datasets shipped inside the scikit-learn wheel: nothing here may download.
SKLEARN_DATASETS = ("breast_cancer", "diabetes", "digits", "iris", "wine")


def _columns_hint(columns) -> str:
    names = [str(c) for c in columns]
    shown = ", ".join(repr(c) for c in names[:30])
    return shown + (f", ... ({len(names)} columns)" if len(names) > 30 else "")


def check_target(frame: pd.DataFrame, target: str, source: str) -> None:
    """Raises DataSourceError if `target` is not a column of `frame`, suggesting the closest column name."""
    if target in frame.columns:
        return
    names = [str(c) for c in frame.columns]
    close = difflib.get_close_matches(str(target), names, n=1, cutoff=0.6)
    if not close:  # case-only differences score low with difflib
        close = [c for c in names if c.lower() == str(target).lower()][:1]
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise DataSourceError(
        f"target column {target!r} not found in {source}.{hint} Pass --target with one of the available columns: "
        f"{_columns_hint(names)}"
    )


def _load_sklearn(name: str) -> pd.DataFrame:
    if name not in SKLEARN_DATASETS:
        raise DataSourceError(
            f"unknown scikit-learn dataset {name!r}; available: "
            + ", ".join(f"'{SKLEARN_PREFIX}{n}'" for n in SKLEARN_DATASETS)
        )
    from sklearn import datasets

    return getattr(datasets, f"load_{name}")(as_frame=True).frame


def _read_file(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        return pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise DataSourceError(f"data file is empty: {path}; {_NEEDS_ROWS}") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        # pyarrow raises ArrowInvalid (a ValueError) or OSError on a file that is not Parquet.
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        kind = "CSV" if suffix == ".csv" else "Parquet"
        fix = "a comma-separated table with one header row" if kind == "CSV" else "a file written as Parquet"
        raise DataSourceError(f"could not parse {path} as {kind}: {first_line}; --data needs {fix}") from None


def _load_file(source: str) -> pd.DataFrame:
    path = Path(source).expanduser().resolve()
    if not path.exists():
        raise DataSourceError(
            f"data file not found: {path}; pass --data with the path of a {'/'.join(FILE_TYPES)} file "
            f"(or '{SYNTHETIC}', '{SKLEARN_PREFIX}<name>')"
        )
    if path.is_dir():
        raise DataSourceError(f"data source is a directory, expected a file: {path}; pass --data with a file in it")
    if path.suffix.lower() not in FILE_TYPES:
        raise DataSourceError(
            f"unsupported file type {path.suffix or '(no extension)'!r} for {path}; supported: {', '.join(FILE_TYPES)} "
            "(save the table as CSV or Parquet)"
        )
    if path.stat().st_size == 0:
        raise DataSourceError(f"data file is empty: {path}; {_NEEDS_ROWS}")
    frame = _read_file(path)
    if frame.shape[1] == 0:
        raise DataSourceError(f"data file has no columns: {path}; {_NEEDS_ROWS}")
    if len(frame) == 0:
        raise DataSourceError(f"data file has a header but no rows: {path}; {_NEEDS_ROWS}")
    return frame


def load_dataset(
    source: Optional[str] = None, target: Optional[str] = None, n_rows: int = 5000, seed: int = 42
) -> LoadedDataset:
    """Loads a dataset by source name.

    - None or "synthetic": `n_rows` rows from the seeded churn generator (target `churned`);
    - "sklearn:<name>": a scikit-learn bundled dataset (iris, wine, breast_cancer, diabetes, digits), target `target`;
    - a path ending in .csv, .parquet or .pq: the whole file; `target` is required.
    `n_rows` and `seed` only apply to the generator.
    """
    if source is None or str(source).strip().lower() == SYNTHETIC:
        try:
            frame = generator.generate_batch(n_rows, seed=seed)
        except ValueError as exc:
            raise DataSourceError(f"synthetic data source: {exc}; pass --rows with a positive number") from None
        description = f"{SYNTHETIC}(n_rows={n_rows}, seed={seed})"
        target = target or generator.TARGET
    elif str(source).startswith(SKLEARN_PREFIX):
        name = str(source)[len(SKLEARN_PREFIX):].strip().lower()
        frame = _load_sklearn(name)
        description = f"{SKLEARN_PREFIX}{name}"
        target = target or SKLEARN_TARGET
    else:
        frame = _load_file(str(source))
        description = str(Path(str(source)).expanduser().resolve())
        if not target:
            raise DataSourceError(
                f"a target column is required for file {description}: pass --target <column>. "
                f"Columns: {_columns_hint(frame.columns)}"
            )
    # Non-string column names (e.g. from headerless files) break the feature plan and the serving signature.
    frame.columns = [str(c) for c in frame.columns]
    check_target(frame, target, description)
    return LoadedDataset(frame=frame, target=target, source=description)


def load_table(path: str) -> pd.DataFrame:
    """A CSV or Parquet file as a frame, with the same clear errors as `load_dataset` (no target needed: batches to
    score may be unlabelled)."""
    return _load_file(str(path))
