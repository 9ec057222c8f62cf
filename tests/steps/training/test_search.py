"""The CV search: every candidate scored on several metrics, progress logged, no ZenML."""

import pytest

from steps.data.columns import plan_features
from steps.data.generator import TARGET, generate_batch
from steps.training.model_factory import build_model, search_space
from steps.training.search import SearchProgress, SearchReport, scorings, tune


@pytest.fixture(scope="module")
def churn():
    df = generate_batch(400, seed=4)
    return df, plan_features(df, TARGET, "binary")


def test_every_candidate_has_each_score_and_the_best_is_chosen(churn):
    df, plan = churn
    model = build_model(plan.numeric, plan.categorical, "binary", "random_forest", {"n_estimators": 10}, seed=1)
    grid = search_space({"max_depth": [2, 4], "min_samples_leaf": [1, 5]}, "random_forest", "binary")
    fitted, report, fit_seconds = tune(model, df[plan.features], df[TARGET], "binary", grid, cv_folds=2, seed=1)
    assert len(report.candidates) == 4 == len(fit_seconds) and all(t > 0 for t in fit_seconds)
    assert {tuple(sorted(c["params"].items())) for c in report.candidates} == {
        (("max_depth", d), ("min_samples_leaf", m)) for d in (2, 4) for m in (1, 5)}
    for candidate in report.candidates:
        assert set(candidate["scores"]) == {"roc_auc", "accuracy", "balanced_accuracy", "neg_log_loss"}
        assert candidate["scores"]["roc_auc"]["mean"] == candidate["mean_score"]
    best = report.candidates[report.best_index]
    assert best["rank"] == 1 and best["params"] == report.best_params and best["mean_score"] == report.best_score
    assert fitted.named_steps["model"].max_depth == report.best_params["max_depth"]
    again = SearchReport.from_json(report.to_json())
    assert again == report and "balanced_accuracy" in again.to_html()


def test_random_search_scores_the_configured_metric_first(churn):
    df, plan = churn
    model = build_model(plan.numeric, plan.categorical, "binary", "logistic_regression", {}, seed=1)
    grid = search_space({"C": [0.1, 1.0, 10.0]}, "logistic_regression", "binary")
    _, report, _ = tune(model, df[plan.features], df[TARGET], "binary", grid, method="random", n_iter=2,
                        cv_folds=2, scoring="accuracy", seed=1)
    assert report.scoring == "accuracy" and len(report.candidates) == 2
    assert list(report.candidates[0]["scores"])[0] == "accuracy"


def test_without_a_space_the_model_is_fitted_as_configured(churn):
    df, plan = churn
    model = build_model(plan.numeric, plan.categorical, "binary", "logistic_regression", {}, seed=1)
    fitted, report, fit_seconds = tune(model, df[plan.features], df[TARGET], "binary", {})
    assert report.candidates == [] and fit_seconds == [] and report.best_index == -1
    assert fitted.predict(df[plan.features].head(3)).shape == (3,)


def test_scorings_put_the_choosing_score_first_without_repeats():
    assert scorings("regression", None) == ["neg_root_mean_squared_error", "r2", "neg_mean_absolute_error"]
    assert scorings("multiclass", "accuracy") == ["accuracy", "balanced_accuracy"]


def test_progress_logs_fits_done_elapsed_and_time_left():
    now = [0.0]
    lines = []
    progress = SearchProgress(["accuracy"], total=4, every_seconds=10.0, log=lambda msg, *a: lines.append(msg % a),
                              clock=lambda: now[0])
    for t in (2.0, 4.0, 12.0, 16.0):  # fits within 10 s of the last line are not logged, the last one always is
        now[0] = t
        progress.tick()
    assert lines == [
        "search: 3/4 fits done, 12.0s elapsed, about 4.0s left",
        "search: 4/4 fits done, 16.0s elapsed, about 0.0s left",
    ]


def test_optuna_search_is_seeded_scores_like_the_others_and_lists_each_configuration_once(churn):
    df, plan = churn
    model = build_model(plan.numeric, plan.categorical, "binary", "random_forest", {"n_estimators": 10}, seed=1)
    grid = search_space({"max_depth": [2, 4, None], "min_samples_leaf": [1, 5]}, "random_forest", "binary")
    X, y = df[plan.features], df[TARGET]
    fitted, report, fit_seconds = tune(model, X, y, "binary", grid, method="optuna", n_iter=8, cv_folds=2, seed=3)
    assert report.method == "optuna" and 1 <= len(report.candidates) <= 6 and len(fit_seconds) == len(report.candidates)
    params = [tuple(sorted(c["params"].items(), key=str)) for c in report.candidates]
    assert len(set(params)) == len(params)  # a repeated trial is scored once
    assert all(set(c["scores"]) == {"roc_auc", "accuracy", "balanced_accuracy", "neg_log_loss"}
               for c in report.candidates)
    best = report.candidates[report.best_index]
    assert best["rank"] == 1 and best["mean_score"] == report.best_score == max(c["mean_score"] for c in report.candidates)
    assert fitted.named_steps["model"].max_depth == report.best_params["max_depth"]
    # the same grid candidate scores the same under both methods: same folds, same seeded estimator
    _, grid_report, _ = tune(model, X, y, "binary", grid, cv_folds=2, seed=3)
    by_params = {tuple(sorted(c["params"].items(), key=str)): c["mean_score"] for c in grid_report.candidates}
    assert all(by_params[p] == pytest.approx(c["mean_score"]) for p, c in zip(params, report.candidates))
    _, again, _ = tune(model, X, y, "binary", grid, method="optuna", n_iter=8, cv_folds=2, seed=3)
    assert again == report  # seeded TPE: a rerun tries the same configurations in the same order
    assert "(optuna search)" in report.to_html()
