"""Hyper-parameter search with cross-validation on the training split only (the holdout never scores candidates)."""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List

import pandas as pd
from sklearn.model_selection import GridSearchCV, KFold, RandomizedSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline

from materializers.report_base import Report, html_page

DEFAULT_SCORING = {"binary": "roc_auc", "multiclass": "f1_macro", "regression": "neg_root_mean_squared_error"}


@dataclasses.dataclass
class SearchReport(Report):
    """What the search tried and what it chose."""

    title = "Hyper-parameter search"
    scoring: str
    cv_folds: int
    best_params: Dict[str, Any]
    best_score: float
    candidates: List[Dict[str, Any]]  # params, mean and std of the CV score, rank

    def to_html(self) -> str:
        rows = "".join(
            f"<tr><td>{c['rank']}</td><td>{c['mean_score']:.4f} ± {c['std_score']:.4f}</td><td>{c['params']}</td></tr>"
            for c in sorted(self.candidates, key=lambda c: c["rank"])
        )
        body = (
            f"<p>{len(self.candidates)} candidates, {self.cv_folds}-fold CV on the training split, scoring "
            f"<b>{self.scoring}</b>. Best: <b>{self.best_score:.4f}</b> with {self.best_params}</p>"
            f"<table><tr><th>rank</th><th>CV score</th><th>parameters</th></tr>{rows}</table>"
        )
        return html_page(self.title, body)


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
) -> tuple[Pipeline, SearchReport]:
    """Fits the best candidate of `grid` on (X, y); without a grid, fits `model` as configured."""
    scoring = scoring or DEFAULT_SCORING[task]
    if not grid:
        model.fit(X, y)
        return model, SearchReport(scoring=scoring, cv_folds=0, best_params={}, best_score=float("nan"), candidates=[])
    splitter = (
        KFold(n_splits=cv_folds, shuffle=True, random_state=seed)
        if task == "regression"
        else StratifiedKFold(n_splits=cv_folds, shuffle=True, random_state=seed)
    )
    if method == "random":
        search = RandomizedSearchCV(
            model, grid, n_iter=n_iter, cv=splitter, scoring=scoring, random_state=seed, refit=True, n_jobs=1
        )
    else:
        search = GridSearchCV(model, grid, cv=splitter, scoring=scoring, refit=True, n_jobs=1)
    search.fit(X, y)
    results = search.cv_results_
    candidates = [
        {
            "params": {k.removeprefix("model__"): _plain(v) for k, v in params.items()},
            "mean_score": float(results["mean_test_score"][i]),
            "std_score": float(results["std_test_score"][i]),
            "rank": int(results["rank_test_score"][i]),
        }
        for i, params in enumerate(results["params"])
    ]
    report = SearchReport(
        scoring=scoring,
        cv_folds=cv_folds,
        best_params={k.removeprefix("model__"): _plain(v) for k, v in search.best_params_.items()},
        best_score=float(search.best_score_),
        candidates=candidates,
    )
    return search.best_estimator_, report


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars, so reports stay JSON."""
    return value.item() if hasattr(value, "item") else value
