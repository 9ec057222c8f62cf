"""Hyper-parameter search (grid, random or optuna) with cross-validation on the training split only (the holdout never
scores candidates)."""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, Callable, Dict, List

import pandas as pd
from sklearn.metrics import get_scorer
from sklearn.model_selection import GridSearchCV, KFold, RandomizedSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline

from materializers.report_base import Report, html_page

logger = logging.getLogger(__name__)

DEFAULT_SCORING = {"binary": "roc_auc", "multiclass": "f1_macro", "regression": "neg_root_mean_squared_error"}
# Scores every candidate also gets, so the trials can be compared on more than the one that chooses.
EXTRA_SCORING = {
    "binary": ("accuracy", "balanced_accuracy", "neg_log_loss"),
    "multiclass": ("accuracy", "balanced_accuracy"),
    "regression": ("r2", "neg_mean_absolute_error"),
}
PROGRESS_EVERY_SECONDS = 10.0


@dataclasses.dataclass
class SearchReport(Report):
    """What the search tried and what it chose."""

    title = "Hyper-parameter search"
    scoring: str
    cv_folds: int
    best_params: Dict[str, Any]
    best_score: float
    candidates: List[Dict[str, Any]]  # params, mean and std of the CV score, rank, scores {name: {mean, std}}
    method: str = "grid"  # grid | random | optuna

    @property
    def best_index(self) -> int:
        """Position of the chosen candidate in `candidates` (-1 without a search)."""
        return next((i for i, c in enumerate(self.candidates) if c["rank"] == 1), -1)

    def to_html(self) -> str:
        names = sorted({s for c in self.candidates for s in c.get("scores", {})} - {self.scoring})
        head = "".join(f"<th>{n}</th>" for n in names)
        rows = "".join(
            f"<tr><td>{c['rank']}</td><td>{c['mean_score']:.4f} ± {c['std_score']:.4f}</td>"
            + "".join(f"<td>{c['scores'][n]['mean']:.4f}</td>" if n in c.get("scores", {}) else "<td></td>"
                      for n in names)
            + f"<td>{c['params']}</td></tr>"
            for c in sorted(self.candidates, key=lambda c: c["rank"])
        )
        body = (
            f"<p>{len(self.candidates)} candidates ({self.method} search), {self.cv_folds}-fold CV on the training "
            "split, scoring "
            f"<b>{self.scoring}</b>. Best: <b>{self.best_score:.4f}</b> with {self.best_params}. Each candidate is "
            "an MLflow child run of the training run.</p>"
            f"<table><tr><th>rank</th><th>CV {self.scoring}</th>{head}<th>parameters</th></tr>{rows}</table>"
        )
        return html_page(self.title, body)


class SearchProgress:
    """Counts scored fits and logs fits done of total, elapsed time and an estimate of the time left.

    Used as the search's scorer (a callable returning every score by name), the one hook scikit-learn's searches
    call after each fit; it logs at most every `every_seconds`, and always the last fit.
    """

    def __init__(self, scoring: List[str], total: int, *, every_seconds: float = PROGRESS_EVERY_SECONDS,
                 log: Callable[..., None] = logger.info, clock: Callable[[], float] = time.monotonic) -> None:
        self.scorers = {name: get_scorer(name) for name in scoring}
        self.total, self.every_seconds, self.log, self.clock = total, every_seconds, log, clock
        self.done = 0
        self.started = clock()
        self.last_logged = self.started

    def __call__(self, estimator: Any, X: Any, y: Any) -> Dict[str, float]:
        scores = {}
        for i, (name, scorer) in enumerate(self.scorers.items()):
            try:
                scores[name] = scorer(estimator, X, y)
            except ValueError as exc:
                if i == 0:  # the choosing score must work: the search reports its error as is
                    raise
                logger.warning("search: extra score %s not computable here (%s); recorded as NaN", name, exc)
                scores[name] = float("nan")
        self.tick()
        return scores

    def tick(self) -> None:
        self.done += 1
        now = self.clock()
        if self.done < self.total and now - self.last_logged < self.every_seconds:
            return
        self.last_logged = now
        elapsed = now - self.started
        left = elapsed / self.done * max(self.total - self.done, 0)
        self.log("search: %d/%d fits done, %.1fs elapsed, about %.1fs left", self.done, self.total, elapsed, left)


def scorings(task: str, scoring: str | None) -> List[str]:
    """The choosing score first, then the extra scores of `task` (without repeats)."""
    primary = scoring or DEFAULT_SCORING[task]
    return [primary] + [s for s in EXTRA_SCORING[task] if s != primary]


def tune(
    model: Pipeline,
    X: pd.DataFrame,
    y: pd.Series,
    task: str,
    grid: Dict[str, List[Any]],
    *,
    method: str = "grid",
    cv_folds: int = 3,
    n_iter: int = 8,
    scoring: str | None = None,
    seed: int = 42,
) -> tuple[Pipeline, SearchReport, List[float]]:
    """Fits the best candidate of `grid` on (X, y); without a grid, fits `model` as configured.

    Returns the model, the report and each candidate's mean fit seconds (kept out of the report: a report is
    identical across reruns, timings are not)."""
    names = scorings(task, scoring)
    scoring = names[0]
    if not grid:
        model.fit(X, y)
        empty = SearchReport(scoring=scoring, cv_folds=0, best_params={}, best_score=float("nan"), candidates=[],
                             method=method)
        return model, empty, []
    splitter = (
        KFold(n_splits=cv_folds, shuffle=True, random_state=seed)
        if task == "regression"
        else StratifiedKFold(n_splits=cv_folds, shuffle=True, random_state=seed)
    )
    n_candidates = _grid_size(grid) if method == "grid" else min(n_iter, _grid_size(grid))
    progress = SearchProgress(names, n_candidates * cv_folds)
    if method == "optuna":
        from steps.training.optuna_search import optuna_search

        # n_iter trials; a configuration tried twice is scored once, so the fit count is an upper bound
        best_model, results, best_params, best_score = optuna_search(
            model, X, y, grid, cv=splitter, scorer=progress, names=names, n_trials=n_iter, seed=seed)
    else:
        if method == "random":
            search = RandomizedSearchCV(
                model, grid, n_iter=n_iter, cv=splitter, scoring=progress, random_state=seed, refit=scoring, n_jobs=1
            )
        else:
            search = GridSearchCV(model, grid, cv=splitter, scoring=progress, refit=scoring, n_jobs=1)
        search.fit(X, y)
        results = search.cv_results_
        best_model, best_params, best_score = search.best_estimator_, search.best_params_, search.best_score_
    candidates = [
        {
            "params": {k.removeprefix("model__"): _plain(v) for k, v in params.items()},
            "mean_score": float(results[f"mean_test_{scoring}"][i]),
            "std_score": float(results[f"std_test_{scoring}"][i]),
            "rank": int(results[f"rank_test_{scoring}"][i]),
            "scores": {n: {"mean": float(results[f"mean_test_{n}"][i]), "std": float(results[f"std_test_{n}"][i])}
                       for n in names},
        }
        for i, params in enumerate(results["params"])
    ]
    report = SearchReport(
        scoring=scoring,
        cv_folds=cv_folds,
        best_params={k.removeprefix("model__"): _plain(v) for k, v in best_params.items()},
        best_score=float(best_score),
        candidates=candidates,
        method=method,
    )
    return best_model, report, [float(t) for t in results["mean_fit_time"]]


def _grid_size(grid: Dict[str, List[Any]]) -> int:
    size = 1
    for values in grid.values():
        size *= len(values)
    return size


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars, so reports stay JSON."""
    return value.item() if hasattr(value, "item") else value
