"""Estimated performance per recorded window before labels arrive (CBPE, steps/monitoring/cbpe.py), calibrated on
the champion's holdout. Binary classification only for now."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Sequence

import numpy as np
import pandas as pd

from serving import live_store
from steps.monitoring.cbpe import Calibration, calibrate, estimate
from steps.monitoring.live import as_label

WINDOW_CHARS = len("20260102T101500Z")


def holdout_calibration(holdout: pd.DataFrame, predictions: pd.DataFrame, target: str, classes: Sequence[Any]
                        ) -> Calibration:
    """Calibrate the positive-class score (classes[1]) on the holdout rows and the champion's holdout predictions."""
    positive = classes[1]
    return calibrate(predictions[f"proba_{positive}"].to_numpy(), (holdout[target] == positive).to_numpy())


def estimated_by_window(directory: Path, calibration: Calibration, classes: Sequence[Any]) -> pd.DataFrame:
    """One row per window: served rows, estimated accuracy and ROC AUC with their band."""
    directory = Path(directory)
    served = [as_label(c, classes) for c in live_store.read_description(directory).get("classes") or []]
    if len(served) != 2:
        return pd.DataFrame()
    column = served.index(classes[1])
    by_window: Dict[str, List[float]] = {}
    for path in sorted((directory / live_store.PREDICTIONS).glob("*.jsonl")):
        scores = by_window.setdefault(path.name[:WINDOW_CHARS], [])
        scores.extend(r["scores"][column] for r in live_store.read_jsonl([path]) if "scores" in r)
    rows = []
    for window, scores in sorted(by_window.items()):
        if len(scores) < 2:
            continue
        got = estimate(calibration, np.array(scores))
        row: Dict[str, Any] = {"window": window, "served": len(scores)}
        for metric, band in got.items():
            row.update({f"est_{metric}": band["estimate"], f"{metric}_lower": band["lower"],
                        f"{metric}_upper": band["upper"]})
        rows.append(row)
    return pd.DataFrame(rows)
