"""Endpoint/offline parity: the candidate, loaded in the real serving environment, must predict what the offline
model predicts on the holdout before it may take traffic."""

from __future__ import annotations

from typing import Any, Dict

import numpy as np
import pandas as pd


class ParityError(RuntimeError):
    """The endpoint's predictions differ from the offline model's."""


def check_parity(url: str, frame: pd.DataFrame, expected: np.ndarray, tolerance: float = 1e-6) -> Dict[str, Any]:
    """Raises ParityError naming the worst row when endpoint and offline outputs differ by more than `tolerance`."""
    from steps.deployment.endpoint_client import EndpointError, predict

    try:
        _, served = predict(url, frame, batch_rows=100)
    except EndpointError as exc:
        raise ParityError(str(exc)) from None
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
