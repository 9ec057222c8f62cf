"""Estimated decay (performance estimated without labels vs the champion's holdout metrics) and how the decision
uses it: it stands in for decay when no labels exist, and realized decay wins when they do."""

import numpy as np
import pandas as pd
import pytest

from core.config import PolicySection, load_config, MonitoringConfig
from steps.monitoring.decay import evaluate_decay
from steps.monitoring.decision import MonitoringDecision, decide
from steps.monitoring.estimated import estimate_batch
from steps.monitoring.estimated_decay import EstimatedDecayReport, evaluate_estimated_decay

REFERENCE = {"accuracy": 0.90, "roc_auc": 0.95}
LIMITS = {"accuracy": 0.05, "roc_auc": 0.05}


def _estimated(accuracy, half_width=0.02, realized=None):
    band = {"estimate": accuracy, "lower": accuracy - half_width, "upper": accuracy + half_width}
    return evaluate_estimated_decay({"accuracy": band}, REFERENCE, LIMITS, task="binary", method="CBPE",
                                    n_rows=500, realized=realized)


def test_estimated_decay_needs_the_whole_band_past_the_limit():
    assert not _estimated(0.88).decayed  # within the limit
    assert not _estimated(0.84).decayed  # the point estimate is past it, the band's upper end (0.86) is not
    report = _estimated(0.80)  # band 0.78 - 0.82: all past 0.85
    assert report.decayed and report.decayed_metrics == ["accuracy"]
    assert report.reasons[0].startswith("estimated accuracy 0.8000 (band 0.7800 – 0.8200, CBPE)")
    assert report.drops["accuracy"] == pytest.approx(0.10)
    assert EstimatedDecayReport.from_json(report.to_json()) == report
    assert "estimated decay" in report.to_html() and "class=fail" in report.to_html()


def test_lower_is_better_estimates_use_the_lower_end_of_the_band():
    band = {"estimate": 12.0, "lower": 11.0, "upper": 13.0}
    report = evaluate_estimated_decay({"mae": band}, {"mae": 10.0}, {"mae": 0.5}, task="regression", method="DLE",
                                      n_rows=100)
    assert report.decayed and report.drops["mae"] == pytest.approx(2.0)
    assert not evaluate_estimated_decay({"mae": band}, {"mae": 10.0}, {"mae": 1.5}, task="regression",
                                        method="DLE", n_rows=100).decayed


def test_without_labels_estimated_decay_alerts_by_default_and_retrains_when_the_policy_says_so():
    decision = decide(None, None, PolicySection(), estimated=_estimated(0.80))
    assert decision.action == "alert" and decision.estimated_decay is True and decision.decayed is None
    assert decision.reasons[0].startswith("alert: estimated decay (no labels yet; an estimate): estimated accuracy")
    assert decide(None, None, PolicySection(retrain_on_estimated_decay=True), estimated=_estimated(0.80)).action \
        == "retrain"
    assert decide(None, None, PolicySection(alert_on_estimated_decay=False), estimated=_estimated(0.80)).action \
        == "none"
    page = decision.to_html()
    assert "Estimated performance (used by the decision)" in page and "0.7800 – 0.8200" in page
    assert MonitoringDecision.from_json(decision.to_json()) == decision


def test_with_labels_realized_decay_wins_and_the_estimate_is_shown_next_to_it():
    y = np.array([0, 1] * 50)
    decay = evaluate_decay(y, y, None, "binary", REFERENCE, max_drop={"accuracy": 0.05})  # realized: perfect
    estimated = _estimated(0.80, realized=decay.current_metrics)
    decision = decide(None, decay, PolicySection(), estimated=estimated)
    assert decision.action == "none" and decision.estimated_decay is True and decision.decayed is False
    page = decision.to_html()
    assert "realized performance decides" in page and "<td>1.0000</td>" in page


def test_the_shipped_policy_alerts_on_estimated_decay_and_does_not_retrain():
    policy = load_config("monitoring", MonitoringConfig).policy
    assert policy.alert_on_estimated_decay and not policy.retrain_on_estimated_decay


def _frames(n, spread, seed, classes):
    """Rows x, truth P(y=1|x) = sigmoid(x); an overconfident model (sigmoid(2.5 x)); as the pipeline's frames."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, spread, n)
    y = np.where(rng.random(n) < 1 / (1 + np.exp(-x)), classes[1], classes[0])
    p = 1 / (1 + np.exp(-2.5 * x))
    predictions = pd.DataFrame({"prediction": np.where(p >= 0.5, classes[1], classes[0]),
                                f"proba_{classes[0]}": 1 - p, f"proba_{classes[1]}": p})
    return pd.DataFrame({"x": x, "churn": y}), predictions


def test_estimate_batch_on_the_pipeline_frames_tracks_realized_accuracy():
    classes = ["no", "yes"]
    holdout, holdout_predictions = _frames(4000, 2.0, 1, classes)
    for spread, seed in ((2.0, 2), (0.6, 3)):
        batch, predictions = _frames(1500, spread, seed, classes)
        estimates, method, calibration = estimate_batch("binary", holdout, holdout_predictions, predictions,
                                                        "churn", classes)
        realized = float(np.mean(predictions["prediction"] == batch["churn"]))
        assert method == "CBPE" and calibration["brier_after"] < calibration["brier_before"]
        assert estimates["accuracy"]["lower"] <= realized <= estimates["accuracy"]["upper"]


def test_estimate_batch_names_a_missing_score_column():
    holdout, holdout_predictions = _frames(200, 2.0, 1, ["no", "yes"])
    with pytest.raises(ValueError, match=r"no score column \['proba_no', 'proba_yes'\]"):
        estimate_batch("binary", holdout, holdout_predictions, pd.DataFrame({"prediction": ["no"] * 3}), "churn",
                       ["no", "yes"])


def test_estimate_batch_for_a_multiclass_model_on_the_pipeline_frames():
    from tests.monitoring.test_cbpe import _multiclass_world

    classes = ["basic", "plus", "pro"]

    def frames(n, spread, seed):
        scores, y = _multiclass_world(n, spread, seed)
        predictions = pd.DataFrame({f"proba_{c}": scores[:, i] for i, c in enumerate(classes)})
        predictions.insert(0, "prediction", np.array(classes)[scores.argmax(axis=1)])
        return pd.DataFrame({"plan": np.array(classes)[y]}), predictions

    holdout, holdout_predictions = frames(5000, 2.0, 1)
    batch, predictions = frames(1500, 0.7, 3)
    estimates, method, _ = estimate_batch("multiclass", holdout, holdout_predictions, predictions, "plan", classes)
    realized = float(np.mean(predictions["prediction"] == batch["plan"]))
    assert method == "CBPE (multiclass)" and set(estimates) == {"accuracy"}
    assert estimates["accuracy"]["lower"] <= realized <= estimates["accuracy"]["upper"]
    report = evaluate_estimated_decay(estimates, {"accuracy": 0.95, "f1_macro": 0.9},
                                      {"accuracy": 0.05, "f1_macro": 0.05}, task="multiclass", method=method,
                                      n_rows=len(batch))
    assert report.decayed_metrics == ["accuracy"]  # f1_macro is limited but not estimated: it waits for labels


def test_estimate_batch_for_a_regressor_estimates_its_loss_and_r2_counts_under_the_shipped_limits():
    from tests.monitoring.test_dle import FEATURES, _world

    holdout, holdout_mean = _world(1500, 1.0, seed=1)
    batch, mean = _world(800, 1.0, seed=2)
    estimates, method, quality = estimate_batch(
        "regression", holdout, pd.DataFrame({"prediction": holdout_mean}), pd.DataFrame({"prediction": mean}), "y",
        (), FEATURES, batch.drop(columns=["y"]))
    assert method == "DLE" and set(estimates) == {"mae", "rmse", "r2"} and quality["holdout_rows_checked"] == 450
    limits = load_config("monitoring", MonitoringConfig).max_drop["regression"]
    report = evaluate_estimated_decay(estimates, {"mae": 0.88, "rmse": 1.25, "r2": 0.88}, limits,
                                      task="regression", method=method, n_rows=len(batch))
    assert not report.decayed and "r2" in report.drops
    worse = evaluate_estimated_decay(estimates, {"mae": 0.5, "rmse": 0.6, "r2": 0.99}, {"r2": 0.01},
                                     task="regression", method=method, n_rows=len(batch))
    assert worse.decayed_metrics == ["r2"]
