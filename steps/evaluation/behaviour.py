"""Behaviour checks of a trained model (Made-With-ML's behavioural tests), declared in the training config's
`evaluation.behaviour_checks` and run on the holdout rows (plain functions, no ZenML):

- invariance: setting column C to each other value of its domain must not move any prediction by more than
  `tolerance` on more than `max_share` of the rows;
- direction: adding `delta` to numeric feature F must not lower (expect: increase) / raise (expect: decrease) the
  positive-class probability (binary), the probability of `label` (multiclass) or the output (regression) on at
  least `min_share` of the rows;
- min_metric: on named cases (a pandas query on the holdout, or a CSV file of labelled cases) a metric must reach
  `minimum`.

Each result is a plain dict (name, kind, passed, value, threshold, detail), stored in the evaluation report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import pandas as pd

from core.config import CONFIG_DIR, DirectionCheck, InvarianceCheck, MinMetricCheck


class BehaviourCheckError(ValueError):
    """A behaviour check cannot run as declared (unknown column, bad query, unreadable cases file)."""


def _outputs(model: Any, X: pd.DataFrame, task: str) -> np.ndarray:
    """Every output the model gives per row: class probabilities, or the prediction as one column."""
    if task == "regression":
        return np.asarray(model.predict(X), dtype=float).reshape(-1, 1)
    return np.asarray(model.predict_proba(X), dtype=float)


def _score(model: Any, X: pd.DataFrame, task: str, label: Optional[Any], name: str) -> np.ndarray:
    """The one number per row a direction check follows."""
    if task == "regression":
        return _outputs(model, X, task)[:, 0]
    classes = [str(c) for c in model.classes_]
    if task == "binary" and label is None:
        return _outputs(model, X, task)[:, 1]
    if label is None:
        raise BehaviourCheckError(f"behaviour check '{name}': a multiclass model needs `label` (the class whose "
                                  f"probability must move); classes: {', '.join(classes)}")
    if str(label) not in classes:
        raise BehaviourCheckError(f"behaviour check '{name}': label {label!r} is not a class of the model "
                                  f"({', '.join(classes)})")
    return _outputs(model, X, task)[:, classes.index(str(label))]


def _column(X: pd.DataFrame, column: str, name: str) -> None:
    if column not in X.columns:
        raise BehaviourCheckError(f"behaviour check '{name}': column '{column}' is not a model feature; features: "
                                  f"{', '.join(map(str, X.columns))}")


def invariance(model: Any, X: pd.DataFrame, task: str, check: InvarianceCheck) -> Dict[str, Any]:
    _column(X, check.column, check.name)
    values = list(check.values) or sorted(X[check.column].dropna().unique().tolist(), key=str)
    if len(values) < 2:
        raise BehaviourCheckError(f"behaviour check '{check.name}': column '{check.column}' needs at least two "
                                  f"values to swap between, found {values}")
    base = _outputs(model, X, task)
    largest = np.zeros(len(X))
    for value in values:
        changed = X.copy()
        changed[check.column] = value
        largest = np.maximum(largest, np.abs(_outputs(model, changed, task) - base).max(axis=1))
    moved = float((largest > check.tolerance).mean()) if len(X) else 0.0
    passed = moved <= check.max_share
    detail = (f"setting '{check.column}' to each of {', '.join(map(str, values))} moved the prediction by more than "
              f"{check.tolerance} on {moved:.1%} of {len(X)} rows (allowed: {check.max_share:.1%}; largest move "
              f"{largest.max(initial=0.0):.4f})")
    return _result(check, passed, moved, check.max_share, detail)


def direction(model: Any, X: pd.DataFrame, task: str, check: DirectionCheck) -> Dict[str, Any]:
    _column(X, check.feature, check.name)
    if not pd.api.types.is_numeric_dtype(X[check.feature]):
        raise BehaviourCheckError(f"behaviour check '{check.name}': feature '{check.feature}' is not numeric "
                                  f"(dtype {X[check.feature].dtype}); a direction check adds `delta` to it")
    rows = X.loc[X[check.feature].notna()]
    if rows.empty:
        raise BehaviourCheckError(f"behaviour check '{check.name}': feature '{check.feature}' has no values")
    before = _score(model, rows, task, check.label, check.name)
    shifted = rows.copy()
    shifted[check.feature] = rows[check.feature].astype(float) + check.delta
    after = _score(model, shifted, task, check.label, check.name)
    move = after - before
    kept = move >= -check.tolerance if check.expect == "increase" else move <= check.tolerance
    share = float(kept.mean())
    opposite = "decrease" if check.expect == "increase" else "increase"
    detail = (f"adding {check.delta:g} to '{check.feature}' did not {opposite} the {_followed(task, check)} on "
              f"{share:.1%} of {len(rows)} rows (required: {check.min_share:.1%}; mean change {move.mean():+.4f})")
    return _result(check, share >= check.min_share, share, check.min_share, detail)


def _followed(task: str, check: DirectionCheck) -> str:
    if task == "regression":
        return "prediction"
    return f"probability of class {check.label}" if check.label is not None else "positive-class probability"


def cases_for(check: MinMetricCheck, holdout: pd.DataFrame) -> pd.DataFrame:
    """The named cases: holdout rows matching the query, or the rows of the cases file."""
    if check.query is not None:
        try:
            return holdout.query(check.query)
        except Exception as exc:  # pandas raises many types for a bad expression
            raise BehaviourCheckError(f"behaviour check '{check.name}': query {check.query!r} failed on the "
                                      f"holdout: {type(exc).__name__}: {exc}") from None
    path = Path(check.cases)
    path = path if path.is_absolute() else CONFIG_DIR.parent / path
    if not path.is_file():
        raise BehaviourCheckError(f"behaviour check '{check.name}': cases file not found: {path}")
    return pd.read_csv(path)


def min_metric(model: Any, holdout: pd.DataFrame, features: List[str], target: str, task: str,
               check: MinMetricCheck) -> Dict[str, Any]:
    from steps.evaluation.metrics import evaluate, predict_with

    cases = cases_for(check, holdout)
    absent = [c for c in [*features, target] if c not in cases.columns]
    if absent:
        raise BehaviourCheckError(f"behaviour check '{check.name}': the cases lack column(s) {', '.join(absent)}")
    where = f"cases {check.query!r}" if check.query is not None else f"cases in {check.cases}"
    if len(cases) < check.min_rows:
        return _result(check, False, float("nan"), check.minimum,
                       f"{where}: {len(cases)} row(s), fewer than the {check.min_rows} needed")
    y_pred, y_proba, classes = predict_with(model, cases[features], task)
    metrics = evaluate(cases[target], y_pred, task, y_proba, classes).metrics
    if check.metric not in metrics:
        return _result(check, False, float("nan"), check.minimum,
                       f"{where}: {check.metric} is not defined on these {len(cases)} rows (available: "
                       f"{', '.join(sorted(metrics))})")
    value = metrics[check.metric]
    detail = f"{where}: {check.metric} = {value:.4f} on {len(cases)} rows (required: {check.minimum})"
    return _result(check, value >= check.minimum, value, check.minimum, detail)


def _result(check: Any, passed: bool, value: float, threshold: float, detail: str) -> Dict[str, Any]:
    return {"name": check.name, "kind": check.kind, "passed": bool(passed), "value": float(value),
            "threshold": float(threshold), "detail": detail}


def check_columns(settings: Any, features: List[str], numeric: List[str]) -> None:
    """Before training: every column the `evaluation` section's checks and slice bins name is a feature of the
    table (numeric where it must be); raises BehaviourCheckError naming the first that is not."""
    from steps.evaluation.slices import SliceConfigError, resolve_bins

    for check in settings.behaviour_checks:
        column = getattr(check, "column", None) or getattr(check, "feature", None)
        if column is not None and column not in features:
            raise BehaviourCheckError(
                f"behaviour check '{check.name}': column '{column}' is not a feature of this table (features: "
                f"{', '.join(features)}); the shipped checks describe the churn demo: declare your own in a "
                "training config (run.py train --config)")
        if check.kind == "direction" and check.feature not in numeric:
            raise BehaviourCheckError(f"behaviour check '{check.name}': feature '{check.feature}' is not numeric")
    try:
        resolve_bins(numeric, settings.numeric_slice_bins, settings.slice_bins)
    except SliceConfigError as exc:
        raise BehaviourCheckError(str(exc)) from None


def run_checks(model: Any, holdout: pd.DataFrame, features: List[str], target: str, task: str,
               checks: List[Any]) -> List[Dict[str, Any]]:
    """Every declared check's result, in declaration order."""
    X = holdout[features]
    results = []
    for check in checks:
        if check.kind == "invariance":
            results.append(invariance(model, X, task, check))
        elif check.kind == "direction":
            results.append(direction(model, X, task, check))
        else:
            results.append(min_metric(model, holdout, features, target, task, check))
    return results


def failed(results: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [r for r in results if not r["passed"]]
