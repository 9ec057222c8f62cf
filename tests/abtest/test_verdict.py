"""Verdicts of simulated A/B tests: better, equal and worse challengers, per metric, and the peeking guard."""

import numpy as np
import pytest

from steps.abtest.statistics import VERDICTS, VariantOutcomes, compare_variants, plan_test


def classifier(rng, n: int, accuracy: float, name: str) -> VariantOutcomes:
    """Binary labels predicted right with probability `accuracy`."""
    y = rng.integers(0, 2, n)
    right = rng.random(n) < accuracy
    return VariantOutcomes(name, y, np.where(right, y, 1 - y))


def scorer(rng, n: int, separation: float, name: str) -> VariantOutcomes:
    """Binary labels with a positive-class probability whose ROC AUC grows with `separation`."""
    y = rng.integers(0, 2, n)
    proba = 1 / (1 + np.exp(-rng.normal(separation * y, 1.0)))
    return VariantOutcomes(name, y, (proba > 0.5).astype(int), proba)


def regressor(rng, n: int, noise: float, name: str) -> VariantOutcomes:
    y = rng.normal(10, 3, n)
    return VariantOutcomes(name, y, y + rng.normal(0, noise, n))


ACCURACY = plan_test("binary", "accuracy", 0.80, 0.05)  # 903 per variant


def test_better_challenger_is_not_enough_data_before_the_plan_and_better_once_reached():
    rng = np.random.default_rng(7)
    champion, challenger = classifier(rng, 2000, 0.80, "v1"), classifier(rng, 2000, 0.88, "v2")
    early = compare_variants(ACCURACY, champion.head(400), challenger.head(400))
    assert early.verdict == "not enough data"
    assert early.difference > 0 and early.ci_low is not None and early.ci_high is not None
    assert early.note.startswith("fixed horizon: 400/903 labelled per variant") and "interim" in early.note
    # the champion alone reaching the plan is not enough: both variants must
    assert compare_variants(ACCURACY, champion, challenger.head(902)).verdict == "not enough data"
    reached = compare_variants(ACCURACY, champion.head(903), challenger.head(903))
    assert reached.verdict == "challenger better" and reached.ci_low > 0 and reached.p_value < 0.05
    assert (reached.n_champion, reached.n_challenger, reached.required_per_variant) == (903, 903, 903)
    assert reached.method == "two-proportion z-test" and reached.confidence == pytest.approx(0.95)
    assert reached.difference == pytest.approx(reached.challenger_value - reached.champion_value)


def test_the_verdict_is_frozen_at_the_horizon():
    rng = np.random.default_rng(7)
    champion, challenger = classifier(rng, 903, 0.80, "v1"), classifier(rng, 903, 0.88, "v2")
    at_horizon = compare_variants(ACCURACY, champion, challenger)
    # 500 more rows each in which the challenger is always wrong and the champion always right change nothing
    zeros, ones = np.zeros(500, int), np.ones(500, int)
    worse = VariantOutcomes("v2", np.r_[challenger.y_true, zeros], np.r_[challenger.y_pred, ones])
    better = VariantOutcomes("v1", np.r_[champion.y_true, zeros], np.r_[champion.y_pred, zeros])
    later = compare_variants(ACCURACY, better, worse)
    assert (later.verdict, later.difference, later.ci_low) == (at_horizon.verdict, at_horizon.difference,
                                                             at_horizon.ci_low)
    assert (later.n_champion, later.n_challenger) == (1403, 1403)
    assert "500 champion and 500 challenger rows after the horizon are not used" in later.note


def test_equal_variants_are_no_difference_and_a_worse_challenger_is_worse():
    rng = np.random.default_rng(3)
    equal = compare_variants(ACCURACY, classifier(rng, 903, 0.82, "v1"), classifier(rng, 903, 0.82, "v2"))
    assert equal.verdict == "no difference" and equal.ci_low < 0 < equal.ci_high
    worse = compare_variants(ACCURACY, classifier(rng, 903, 0.82, "v1"), classifier(rng, 903, 0.74, "v2"))
    assert worse.verdict == "challenger worse" and worse.ci_high < 0 and worse.difference < 0


def test_rmse_is_oriented_so_that_a_smaller_error_is_better():
    plan = plan_test("regression", "rmse", 1.0, 0.1)
    n = plan.required_per_variant
    rng = np.random.default_rng(11)
    better = compare_variants(plan, regressor(rng, n, 1.0, "v1"), regressor(rng, n, 0.8, "v2"))
    assert better.challenger_value < better.champion_value
    assert better.verdict == "challenger better" and better.difference > 0 and better.ci_low > 0
    assert better.difference == pytest.approx(better.champion_value - better.challenger_value)
    assert "lower is better" in better.note and better.method == "bootstrap (RMSE)"
    worse = compare_variants(plan, regressor(rng, n, 1.0, "v1"), regressor(rng, n, 1.25, "v2"))
    assert worse.verdict == "challenger worse" and worse.ci_high < 0
    mae = plan_test("regression", "mae", 0.8, 0.08)
    m = mae.required_per_variant
    assert compare_variants(mae, regressor(rng, m, 1.0, "v1"), regressor(rng, m, 0.8, "v2")).verdict == \
        "challenger better"


def test_roc_auc_bootstrap_is_seeded_and_agrees_with_the_hanley_mcneil_width():
    plan = plan_test("binary", "roc_auc", 0.75, 0.05)
    n = plan.required_per_variant
    rng = np.random.default_rng(5)
    champion, challenger = scorer(rng, n, 1.0, "v1"), scorer(rng, n, 1.5, "v2")
    verdict = compare_variants(plan, champion, challenger, seed=1)
    assert verdict.verdict == "challenger better" and verdict.method == "bootstrap (ROC AUC)"
    from sklearn.metrics import roc_auc_score

    assert verdict.champion_value == pytest.approx(roc_auc_score(champion.y_true, champion.proba))
    assert verdict.challenger_value == pytest.approx(roc_auc_score(challenger.y_true, challenger.proba))
    assert compare_variants(plan, champion, challenger, seed=1) == verdict  # reproducible
    assert compare_variants(plan, champion, challenger, seed=2).ci_low != verdict.ci_low
    from steps.abtest.statistics import _hanley_mcneil_variance

    expected = 2 * 1.96 * np.sqrt(_hanley_mcneil_variance(verdict.champion_value, n, 0.5)
                                  + _hanley_mcneil_variance(verdict.challenger_value, n, 0.5))
    assert verdict.ci_high - verdict.ci_low == pytest.approx(expected, rel=0.2)
    same = compare_variants(plan, champion, scorer(rng, n, 1.0, "v2"))
    assert same.verdict == "no difference"


@pytest.mark.parametrize("metric", ["log_loss", "f1_macro", "balanced_accuracy"])
def test_other_metrics_use_the_bootstrap(metric):
    from dataclasses import replace

    from sklearn import metrics as skm

    plan = replace(ACCURACY, metric=metric, method=f"bootstrap ({metric})")
    rng = np.random.default_rng(2)
    champion, challenger = scorer(rng, 903, 1.0, "v1"), scorer(rng, 903, 3.0, "v2")
    verdict = compare_variants(plan, champion, challenger)
    assert verdict.verdict == "challenger better" and verdict.difference > 0 and verdict.ci_low > 0
    score = {"log_loss": lambda v: skm.log_loss(v.y_true, v.proba),
             "f1_macro": lambda v: skm.f1_score(v.y_true, v.y_pred, average="macro"),
             "balanced_accuracy": lambda v: skm.balanced_accuracy_score(v.y_true, v.y_pred)}[metric]
    assert verdict.champion_value == pytest.approx(score(champion))
    assert verdict.challenger_value == pytest.approx(score(challenger))


def test_r2_bootstrap_matches_sklearn():
    from dataclasses import replace

    from sklearn.metrics import r2_score

    plan = replace(plan_test("regression", "rmse", 1.0, 0.1), metric="r2", method="bootstrap (r2)")
    rng = np.random.default_rng(4)
    champion, challenger = regressor(rng, 711, 1.0, "v1"), regressor(rng, 711, 2.0, "v2")
    verdict = compare_variants(plan, champion, challenger)
    assert verdict.champion_value == pytest.approx(r2_score(champion.y_true, champion.y_pred))
    assert verdict.verdict == "challenger worse" and verdict.difference < 0


def test_no_labelled_rows_yet():
    empty = VariantOutcomes("v2", np.array([], int), np.array([], int))
    verdict = compare_variants(ACCURACY, classifier(np.random.default_rng(0), 50, 0.8, "v1"), empty)
    assert verdict.verdict == "not enough data" and verdict.difference is None and verdict.challenger_value is None
    assert "not measurable yet" in verdict.note and verdict.verdict in VERDICTS


def test_bad_outcomes_are_named():
    rng = np.random.default_rng(0)
    plan = plan_test("binary", "roc_auc", 0.8, 0.05)
    with pytest.raises(ValueError, match=r"challenger \(v2\).proba: the metric needs the positive-class probability"):
        compare_variants(plan, scorer(rng, 10, 1, "v1"), classifier(rng, 10, 0.8, "v2"))
    with pytest.raises(ValueError, match=r"champion \(v1\): y_true and y_pred must be 1-d of one length"):
        compare_variants(ACCURACY, VariantOutcomes("v1", np.zeros(3), np.zeros(4)), classifier(rng, 3, 0.8, "v2"))


def test_false_positive_rate_on_a_a_tests_is_alpha_however_often_status_looks():
    """A/A: both variants equally good. Looking at every status call, the fixed horizon declares a winner in ~alpha
    of the tests; declaring one whenever an interim interval excludes 0 (peeking) would do so far more often."""
    rng = np.random.default_rng(2026)
    n, looks, sims = ACCURACY.required_per_variant, (100, 300, 600, 903, 1200), 600
    declared = peeking = 0
    for _ in range(sims):
        a, b = classifier(rng, 1200, 0.80, "a"), classifier(rng, 1200, 0.80, "b")
        verdicts = [compare_variants(ACCURACY, a.head(k), b.head(k)) for k in looks]
        declared += any(v.verdict in ("challenger better", "challenger worse") for v in verdicts)
        peeking += any(v.ci_low > 0 or v.ci_high < 0 for v in verdicts)
    assert n == 903
    assert 0.025 <= declared / sims <= 0.075  # alpha = 0.05 within 3 binomial sd over 600 tests (0.009)
    assert peeking / sims > 0.09


@pytest.mark.parametrize("plan, variant", [
    (plan_test("regression", "rmse", 1.0, 0.25), lambda rng, n, name: regressor(rng, n, 1.0, name)),
    (plan_test("binary", "roc_auc", 0.75, 0.12), lambda rng, n, name: scorer(rng, n, 1.0, name)),
])
def test_false_positive_rate_of_the_bootstrap_on_a_a_tests(plan, variant):
    rng = np.random.default_rng(99)
    sims, n = 200, plan.required_per_variant
    declared = sum(compare_variants(plan, variant(rng, n, "a"), variant(rng, n, "b"), seed=i).verdict
                   != "no difference" for i in range(sims))
    assert 0.01 <= declared / sims <= 0.10  # alpha = 0.05 within 3 binomial sd over 200 tests (0.015)


@pytest.mark.parametrize("decimals", [None, 1])
def test_resampled_roc_auc_equals_sklearn_on_each_resample(decimals):
    """The vectorized bootstrap AUC (row multiplicities, no sort per resample) is sklearn's, ties included."""
    from sklearn.metrics import roc_auc_score

    from steps.abtest.resampling import METRICS

    rng = np.random.default_rng(8)
    y = rng.integers(0, 2, 400)
    proba = rng.random(400) * 0.7 + 0.3 * y
    proba = proba if decimals is None else np.round(proba, decimals)
    index = rng.integers(0, 400, (6, 400))
    resampled = METRICS["roc_auc"].resampled(VariantOutcomes("v1", y, y, proba), 1, index)
    assert resampled == pytest.approx([roc_auc_score(y[i], proba[i]) for i in index])


def test_with_label_times_the_horizon_compares_both_variants_over_the_same_period():
    """A 90/10 split: the champion has its planned rows long before the challenger. The verdict uses every row
    labelled until the challenger reached the plan, not the champion's first rows only (those are from the start
    of the test, when its labels may have differed)."""
    rng = np.random.default_rng(12)
    champion, challenger = classifier(rng, 9500, 0.80, "v1"), classifier(rng, 1000, 0.88, "v2")
    champion = VariantOutcomes("v1", champion.y_true, champion.y_pred, labelled_at=np.arange(9500) / 9.0)
    challenger = VariantOutcomes("v2", challenger.y_true, challenger.y_pred, labelled_at=np.arange(1000) + 0.5)
    verdict = compare_variants(ACCURACY, champion, challenger)
    # the challenger's 903rd label arrived at t = 902.5; the champion had 8123 labels by then
    assert verdict.verdict == "challenger better" and (verdict.n_champion, verdict.n_challenger) == (9500, 1000)
    assert "on the 8123 champion and 903 challenger rows labelled until both had 903" in verdict.note
    assert "1377 champion and 97 challenger rows after the horizon are not used" in verdict.note
    assert verdict.champion_value == pytest.approx((champion.y_true == champion.y_pred)[:8123].mean())
    # the rows need not be sorted once their times are given
    order = rng.permutation(9500)
    shuffled = champion.rows(order)
    assert compare_variants(ACCURACY, shuffled, challenger) == verdict
    with pytest.raises(ValueError, match="labelled_at: give it for both variants or for neither"):
        compare_variants(ACCURACY, champion, VariantOutcomes("v2", challenger.y_true, challenger.y_pred))


def test_the_planned_sample_has_the_planned_power():
    """A challenger better by exactly the minimum detectable effect is found "better" in ~power of the tests."""
    rng = np.random.default_rng(31)
    sims, n = 400, ACCURACY.required_per_variant
    found = sum(compare_variants(ACCURACY, classifier(rng, n, 0.80, "a"), classifier(rng, n, 0.85, "b")).verdict
                == "challenger better" for _ in range(sims))
    assert 0.74 <= found / sims <= 0.86  # power 0.8 within 3 binomial sd over 400 tests (0.02)


def test_the_positive_class_of_probabilities():
    """`proba` is the probability of class 1 for 0/1 labels even while only negatives were labelled; of the greater
    label for others (a classifier's classes_[1]), unless `positive_label` names it."""
    from dataclasses import replace

    log_loss = replace(ACCURACY, metric="log_loss", method="bootstrap (log_loss)")
    negatives = VariantOutcomes("v1", np.zeros(4, int), np.zeros(4, int), np.full(4, 0.1))
    verdict = compare_variants(log_loss, negatives, negatives)
    assert verdict.champion_value == pytest.approx(-np.log(0.9))
    named = VariantOutcomes("v1", np.array(["churn", "stay"]), np.array(["churn", "stay"]), np.array([0.2, 0.9]))
    assert compare_variants(log_loss, named, named).champion_value == pytest.approx(-np.log(0.8 * 0.9) / 2)
    assert compare_variants(log_loss, named, named, positive_label="churn").champion_value == \
        pytest.approx(-np.log(0.2 * 0.1) / 2)
