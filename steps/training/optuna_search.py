"""Optuna as a search method: seeded TPE over the configured space, each trial cross-validated exactly as the grid
and random searches do, the results shaped like scikit-learn's `cv_results_` so the rest of `tune` (report, child
runs) treats every method alike (plain functions, no ZenML)."""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.base import clone
from sklearn.model_selection import cross_validate

logger = logging.getLogger(__name__)


def optuna_search(model: Any, X: pd.DataFrame, y: pd.Series, grid: Dict[str, List[Any]], *, cv: Any,
                  scorer: Callable[..., Dict[str, float]], names: List[str], n_trials: int,
                  seed: int) -> tuple[Any, Dict[str, Any], Dict[str, Any], float]:
    """Runs `n_trials` TPE trials (TPESampler(seed)) maximising the mean CV score `names[0]`; each key of `grid` is a
    categorical choice among its values. A trial that repeats an earlier configuration reuses its scores (no refit)
    and is not listed twice. Returns (best model refitted on X, y; cv_results_-like dict; best params; best score)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the search logs its own progress
    scoring = names[0]
    seen: Dict[tuple, Dict[str, Any]] = {}

    def objective(trial: Any) -> float:
        params = {key: _choice(trial, key, values) for key, values in grid.items()}
        key = tuple(sorted((k, repr(v)) for k, v in params.items()))
        if key not in seen:
            scores = cross_validate(clone(model).set_params(**params), X, y, cv=cv, scoring=scorer, n_jobs=1,
                                    error_score="raise")
            seen[key] = {"params": params, "scores": scores}
        return float(np.mean(seen[key]["scores"][f"test_{scoring}"]))

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=n_trials)
    tried = list(seen.values())
    results: Dict[str, Any] = {"params": [t["params"] for t in tried],
                               "mean_fit_time": np.array([np.mean(t["scores"]["fit_time"]) for t in tried])}
    for name in names:
        values = [np.asarray(t["scores"][f"test_{name}"], dtype=float) for t in tried]
        results[f"mean_test_{name}"] = np.array([v.mean() for v in values])
        results[f"std_test_{name}"] = np.array([v.std() for v in values])
    results[f"rank_test_{scoring}"] = rankdata(-results[f"mean_test_{scoring}"], method="min").astype(int)
    best = int(np.argmax(results[f"mean_test_{scoring}"]))  # the first of the best, as scikit-learn's searches
    best_params = tried[best]["params"]
    logger.info("optuna: %d trials, %d distinct configurations", n_trials, len(tried))
    fitted = clone(model).set_params(**best_params).fit(X, y)
    return fitted, results, best_params, float(results[f"mean_test_{scoring}"][best])


def _choice(trial: Any, key: str, values: List[Any]) -> Any:
    """A categorical suggestion among `values`, by index so that any value type (None, mixed types) works."""
    index = trial.suggest_categorical(key, list(range(len(values))))
    return values[index]
