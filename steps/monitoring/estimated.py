"""Estimated performance before labels arrive, fitted on the champion's holdout: CBPE for classifiers
(steps/monitoring/cbpe.py) and direct loss estimation for regressors (steps/monitoring/dle.py), for a monitored
batch (`estimate_batch`, used by the decision) and per recorded window (printed by `run.py monitor --live`)."""

from __future__ import annotations

from pathlib import Path
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import pandas as pd

from serving import live_store
from steps.monitoring.cbpe import Calibration, calibrate, calibrate_multiclass, estimate, estimate_multiclass
from steps.monitoring.dle import estimate_loss, fit_loss_estimator
from steps.monitoring.live import served_traffic

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


@dataclass
class PerformanceEstimator:
    """An estimate fitted on the champion's holdout: `estimate(predictions, rows)` gives {metric: {'estimate',
    'lower', 'upper'}} for unlabelled rows (the model's predictions frame, and the rows for a regressor)."""

    method: str
    quality: Dict[str, float]
    estimate: Callable[[pd.DataFrame, pd.DataFrame], Dict[str, Dict[str, float]]]


def fit_performance_estimator(
    task: str, holdout: pd.DataFrame, holdout_predictions: pd.DataFrame, target: str, classes: Sequence[Any] = (),
    features: Sequence[str] = (),
) -> Optional[PerformanceEstimator]:
    """CBPE (binary, multiclass) or DLE (regression) fitted on the holdout; None for another task."""
    if task == "binary":
        calibration = holdout_calibration(holdout, holdout_predictions, target, classes)
        return PerformanceEstimator(
            "CBPE", {"brier_before": calibration.brier_before, "brier_after": calibration.brier_after},
            lambda predictions, _: estimate(calibration, predictions[_score_columns(predictions, classes)[1]]
                                            .to_numpy()))
    if task == "multiclass":
        columns = _score_columns(holdout_predictions, classes)
        y_index = holdout[target].map({c: i for i, c in enumerate(classes)})
        if y_index.isna().any():
            raise ValueError(f"holdout column {target!r} has classes outside {list(classes)}")
        multiclass = calibrate_multiclass(holdout_predictions[columns].to_numpy(), y_index.to_numpy(dtype=int))
        return PerformanceEstimator(
            "CBPE (multiclass)", {"brier_before": multiclass.brier_before, "brier_after": multiclass.brier_after},
            lambda predictions, _: estimate_multiclass(
                multiclass, predictions[_score_columns(predictions, classes)].to_numpy()))
    if task == "regression":
        loss = fit_loss_estimator(holdout, holdout_predictions["prediction"].to_numpy(), target, features)
        return PerformanceEstimator(
            "DLE", {"holdout_rows_checked": float(len(loss.check_truth))},
            lambda predictions, rows: estimate_loss(loss, rows, predictions["prediction"].to_numpy()))
    return None


def estimate_batch(
    task: str, holdout: pd.DataFrame, holdout_predictions: pd.DataFrame, predictions: pd.DataFrame, target: str,
    classes: Sequence[Any] = (), features: Sequence[str] = (), batch: Optional[pd.DataFrame] = None,
) -> Optional[Tuple[Dict[str, Dict[str, float]], str, Dict[str, float]]]:
    """(estimates {metric: {'estimate', 'lower', 'upper'}}, method, estimator quality) for the batch's
    `predictions` (and rows `batch`, for a regressor), fitted on the holdout; None when there is no estimate."""
    if len(predictions) < 2 or (task == "regression" and batch is None):
        return None
    estimator = fit_performance_estimator(task, holdout, holdout_predictions, target, classes, features)
    if estimator is None:
        return None
    return estimator.estimate(predictions, batch), estimator.method, estimator.quality


def estimated_by_window(directory: Path, estimator: PerformanceEstimator, features: Sequence[str], target: str,
                        classes: Sequence[Any] = ()) -> pd.DataFrame:
    """One row per recorded window: served rows and each estimated metric with its band."""
    directory = Path(directory)
    windows = sorted({path.name[:WINDOW_CHARS] for path in (directory / live_store.PREDICTIONS).glob("*.jsonl")})
    rows = []
    for window in windows:
        traffic = served_traffic(directory, [window], features, target, classes)
        if len(traffic.predictions) < 2:
            continue
        row: Dict[str, Any] = {"window": window, "served": len(traffic.predictions)}
        for metric, band in estimator.estimate(traffic.predictions, traffic.batch).items():
            row.update({f"est_{metric}": band["estimate"], f"{metric}_lower": band["lower"],
                        f"{metric}_upper": band["upper"]})
        rows.append(row)
    return pd.DataFrame(rows)
