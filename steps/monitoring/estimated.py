"""Estimated performance before labels arrive, fitted on the champion's holdout: CBPE for classifiers
(steps/monitoring/cbpe.py) and direct loss estimation for regressors (steps/monitoring/dle.py), for a monitored
batch (`estimate_batch`, used by the decision) and per recorded window (binary, printed by `run.py monitor
--live`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from serving import live_store
from steps.monitoring.cbpe import Calibration, calibrate, calibrate_multiclass, estimate, estimate_multiclass
from steps.monitoring.dle import estimate_loss, fit_loss_estimator
from steps.monitoring.live import as_label

WINDOW_CHARS = len("20260102T101500Z")


def holdout_calibration(holdout: pd.DataFrame, predictions: pd.DataFrame, target: str, classes: Sequence[Any]
                        ) -> Calibration:
    """Calibrate the positive-class score (classes[1]) on the holdout rows and the champion's holdout predictions."""
    positive = classes[1]
    return calibrate(predictions[f"proba_{positive}"].to_numpy(), (holdout[target] == positive).to_numpy())


def _score_columns(predictions: pd.DataFrame, classes: Sequence[Any]) -> List[str]:
    """The `proba_<class>` columns in the order of `classes`; an error naming what is missing."""
    columns = [f"proba_{c}" for c in classes]
    missing = [c for c in columns if c not in predictions.columns]
    if missing:
        raise ValueError(f"predictions have no score column {missing} for classes {list(classes)}; columns are "
                         f"{list(predictions.columns)}")
    return columns


def estimate_batch(
    task: str, holdout: pd.DataFrame, holdout_predictions: pd.DataFrame, predictions: pd.DataFrame, target: str,
    classes: Sequence[Any] = (), features: Sequence[str] = (), batch: Optional[pd.DataFrame] = None,
) -> Optional[Tuple[Dict[str, Dict[str, float]], str, Dict[str, float]]]:
    """(estimates {metric: {'estimate', 'lower', 'upper'}}, method, calibration quality) for the batch's
    `predictions`, fitted on the holdout; None when the task has no estimate."""
    if len(predictions) < 2:
        return None
    if task == "binary":
        calibration = holdout_calibration(holdout, holdout_predictions, target, classes)
        scores = predictions[_score_columns(predictions, classes)[1]].to_numpy()
        return (estimate(calibration, scores), "CBPE",
                {"brier_before": calibration.brier_before, "brier_after": calibration.brier_after})
    if task == "multiclass":
        columns = _score_columns(predictions, classes)
        y_index = holdout[target].map({c: i for i, c in enumerate(classes)})
        if y_index.isna().any():
            raise ValueError(f"holdout column {target!r} has classes outside {list(classes)}")
        calibration = calibrate_multiclass(holdout_predictions[columns].to_numpy(), y_index.to_numpy(dtype=int))
        return (estimate_multiclass(calibration, predictions[columns].to_numpy()), "CBPE (multiclass)",
                {"brier_before": calibration.brier_before, "brier_after": calibration.brier_after})
    if task == "regression" and batch is not None:
        estimator = fit_loss_estimator(holdout, holdout_predictions["prediction"].to_numpy(), target, features)
        return (estimate_loss(estimator, batch, predictions["prediction"].to_numpy()), "DLE",
                {"holdout_rows_checked": float(len(estimator.check_truth))})
    return None


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
