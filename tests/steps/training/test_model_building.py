"""Model factory, search and split: plain logic, no ZenML."""

import numpy as np
import pandas as pd
import pytest

from steps.data.columns import plan_features
from steps.data.generator import TARGET, generate_batch
from steps.training.model_factory import ModelConfigError, build_model, estimator_class, search_space
from steps.training.search import tune
from steps.training.split import SplitError, split_frame


@pytest.fixture(scope="module")
def churn():
    df = generate_batch(800, seed=3)
    return df, plan_features(df, TARGET, "binary")


def test_unknown_estimator_names_the_choices():
    with pytest.raises(ModelConfigError, match="unknown estimator 'xgb'.*logistic_regression"):
        estimator_class("xgb", "binary")


def test_estimator_task_mismatch_suggests_usable_ones():
    with pytest.raises(ModelConfigError, match="'logistic_regression' cannot do regression; use one of ridge"):
        estimator_class("logistic_regression", "regression")


def test_unknown_parameter_is_rejected_with_valid_names(churn):
    df, plan = churn
    with pytest.raises(ModelConfigError, match="has no parameter\\(s\\) n_trees"):
        build_model(plan.numeric, plan.categorical, "binary", "random_forest", {"n_trees": 3}, seed=1)


def test_search_space_validates_keys_and_values():
    with pytest.raises(ModelConfigError, match="no parameter 'depth'"):
        search_space({"depth": [1, 2]}, "random_forest", "binary")
    with pytest.raises(ModelConfigError, match="non-empty list"):
        search_space({"max_depth": []}, "random_forest", "binary")
    assert search_space({"max_depth": [2, 4]}, "random_forest", "binary") == {"model__max_depth": [2, 4]}


def test_pipeline_handles_missing_values_and_unseen_categories(churn):
    df, plan = churn
    model = build_model(plan.numeric, plan.categorical, "binary", "logistic_regression", {}, seed=1)
    model.fit(df[plan.features], df[TARGET])
    probe = df[plan.features].head(3).copy()
    probe.loc[0, plan.numeric[0]] = np.nan
    probe.loc[1, plan.categorical[0]] = "never-seen"
    proba = model.predict_proba(probe)
    assert proba.shape == (3, 2) and np.allclose(proba.sum(axis=1), 1.0)


def test_search_uses_only_training_data_and_is_seeded(churn):
    df, plan = churn
    train, holdout = split_frame(df, TARGET, "binary", test_size=0.25, seed=7)
    grid = search_space({"max_depth": [2, 4]}, "random_forest", "binary")
    results = []
    for _ in range(2):
        model = build_model(plan.numeric, plan.categorical, "binary", "random_forest", {"n_estimators": 20}, seed=5)
        fitted, report, _ = tune(model, train[plan.features], train[TARGET], "binary", grid, cv_folds=3, seed=5)
        results.append((report.best_score, fitted.predict_proba(holdout[plan.features])))
        assert len(report.candidates) == 2 and report.scoring == "roc_auc"
    assert results[0][0] == results[1][0]
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_split_is_stratified_and_seeded(churn):
    df, _ = churn
    a_train, a_hold = split_frame(df, TARGET, "binary", 0.2, seed=11)
    b_train, b_hold = split_frame(df, TARGET, "binary", 0.2, seed=11)
    pd.testing.assert_frame_equal(a_hold, b_hold)
    assert abs(a_hold[TARGET].mean() - df[TARGET].mean()) < 0.02
    assert len(a_hold) == 160 and len(a_train) == 640


def test_split_refuses_classes_too_small_to_stratify():
    df = pd.DataFrame({"x": range(10), "y": [0] * 9 + [1]})
    with pytest.raises(SplitError, match=r"class\(es\) \[1\] have fewer than 2 rows"):
        split_frame(df, "y", "binary")
