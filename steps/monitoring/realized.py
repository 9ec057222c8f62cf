"""Realized performance per window: labels fed back (Seldon feedback API or `run.py feedback`) joined by prediction
id to the prediction log, scored with the same metrics as the champion's evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Sequence

import numpy as np
import pandas as pd

from serving import live_store
from steps.evaluation.metrics import evaluate
from steps.monitoring.live import as_label, labels_by_id

WINDOW_CHARS = len("20260102T101500Z")


def realized_by_window(directory: Path, task: str, classes: Sequence[Any] = ()) -> pd.DataFrame:
    """One row per window with labels: window, served rows, labelled rows and the metrics of the labelled rows."""
    directory = Path(directory)
    labels = labels_by_id(directory, classes)
    served_classes = [as_label(c, classes) for c in live_store.read_description(directory).get("classes") or []]
    by_window: Dict[str, List[Dict[str, Any]]] = {}
    for path in sorted((directory / live_store.PREDICTIONS).glob("*.jsonl")):
        by_window.setdefault(path.name[:WINDOW_CHARS], []).extend(live_store.read_jsonl([path]))
    rows = []
    for window, records in sorted(by_window.items()):
        joined = [r for r in records if r["id"] in labels]
        row: Dict[str, Any] = {"window": window, "served": len(records), "labelled": len(joined)}
        if joined:
            row.update(_metrics(joined, labels, task, served_classes))
            rows.append(row)
    return pd.DataFrame(rows)


def _metrics(joined, labels, task: str, served_classes: List[Any]) -> Dict[str, float]:
    y_true = np.array([labels[r["id"]] for r in joined])
    if task == "regression":
        return evaluate(y_true.astype(float), np.array([r["prediction"] for r in joined], dtype=float), task).metrics
    y_pred = np.array([as_label(r["prediction"], served_classes) for r in joined])
    y_proba = np.array([r["scores"] for r in joined], dtype=float) if "scores" in joined[0] else None
    return evaluate(y_true, y_pred, task, y_proba, served_classes or None).metrics


def unmatched_ids(directory: Path, ids: Sequence[str]) -> List[str]:
    """The ids (of `ids`) that no prediction-log record carries: unknown, or rotated out of the log."""
    wanted = set(ids)
    for record in live_store.prediction_records(directory):
        wanted.discard(record["id"])
        if not wanted:
            break
    return sorted(wanted)
