"""Endpoint/offline parity: the candidate, loaded in the real serving environment, must predict what the offline
model predicts on the holdout before it may take traffic."""

from __future__ import annotations

import math
from typing import Any, Dict, List

import numpy as np
import pandas as pd


class ParityError(RuntimeError):
    """The endpoint's predictions differ from the offline model's."""


def seldon_payload(frame: pd.DataFrame) -> Dict[str, Any]:
    """A Seldon v1 request: feature names plus rows, missing values as JSON null."""
    rows: List[List[Any]] = []
    for record in frame.itertuples(index=False, name=None):
        rows.append([None if (isinstance(v, float) and math.isnan(v)) or v is pd.NA else _plain(v) for v in record])
    return {"data": {"names": list(frame.columns), "ndarray": rows}}


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def endpoint_predictions(url: str, frame: pd.DataFrame, batch_rows: int = 100, timeout: float = 30.0) -> np.ndarray:
    """The endpoint's output values (probabilities or predictions) for every row of `frame`."""
    import requests

    parts = []
    for start in range(0, len(frame), batch_rows):
        response = requests.post(url, json=seldon_payload(frame.iloc[start:start + batch_rows]), timeout=timeout)
        if response.status_code != 200:
            raise ParityError(f"endpoint {url} answered {response.status_code}: {response.text[:300]}")
        parts.append(np.asarray(response.json()["data"]["ndarray"], dtype=float))
    return np.vstack(parts)


def check_parity(url: str, frame: pd.DataFrame, expected: np.ndarray, tolerance: float = 1e-6) -> Dict[str, Any]:
    """Raises ParityError naming the worst row when endpoint and offline outputs differ by more than `tolerance`."""
    served = endpoint_predictions(url, frame)
    expected = np.asarray(expected, dtype=float).reshape(served.shape[0], -1)
    if served.shape != expected.shape:
        raise ParityError(f"endpoint returned shape {served.shape}, offline model {expected.shape}")
    diff = np.abs(served - expected)
    worst = float(diff.max()) if diff.size else 0.0
    if worst > tolerance:
        row = int(np.unravel_index(diff.argmax(), diff.shape)[0])
        raise ParityError(
            f"endpoint and offline predictions differ on {int((diff > tolerance).any(axis=1).sum())} of {len(frame)} "
            f"holdout rows (worst row {row}: |diff| = {worst:.3g} > tolerance {tolerance})"
        )
    return {"rows": len(frame), "max_abs_diff": worst, "tolerance": tolerance}
