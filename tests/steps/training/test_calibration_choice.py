"""Calibration of the final model: chosen only when it lowers the holdout log loss, and still a servable Pipeline."""

import numpy as np
import pandas as pd
import skops.io
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from serving.artifact import trusted_types
from steps.training.calibration import UNCALIBRATED, CalibrationReport, calibrated, choose_calibration
from steps.training.model_factory import MODEL_STEP


def _redundant_features(n, seed):
    """Naive Bayes counts the same evidence ten times over: its probabilities are far too confident."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    y = np.where(signal + rng.normal(scale=1.0, size=n) > 0, "yes", "no")
    X = pd.DataFrame({f"copy_{i}": signal + rng.normal(scale=0.1, size=n) for i in range(10)})
    return X, pd.Series(y)


def _overconfident_model():
    X, y = _redundant_features(1000, seed=0)
    return Pipeline([("preprocess", StandardScaler()), (MODEL_STEP, GaussianNB())]).fit(X, y)


def test_calibration_lowers_the_log_loss_of_an_overconfident_model():
    model = _overconfident_model()
    (cal_X, cal_y), (hold_X, hold_y) = _redundant_features(800, seed=1), _redundant_features(800, seed=2)
    chosen, report = choose_calibration(model, cal_X, cal_y, hold_X, hold_y, ["sigmoid", "isotonic"])
    losses = report.holdout_log_loss
    assert set(losses) == {UNCALIBRATED, "sigmoid", "isotonic"}
    assert report.chosen != UNCALIBRATED and losses[report.chosen] == min(losses.values())
    assert losses[report.chosen] < 0.8 * losses[UNCALIBRATED], losses
    # still one Pipeline: the same preprocessing, the calibrated estimator as its model step, same classes
    assert isinstance(chosen, Pipeline) and chosen.steps[0][1] is model.steps[0][1]
    assert list(chosen.classes_) == ["no", "yes"]
    assert CalibrationReport.from_json(report.to_json()).chosen == report.chosen
    assert f"chosen: {report.chosen}" in report.summary()


def test_a_well_calibrated_model_stays_uncalibrated_on_a_tie():
    model = _overconfident_model()
    X, y = _redundant_features(300, seed=3)
    chosen, report = choose_calibration(model, X, y, X, y, [])
    assert chosen is model and report.chosen == UNCALIBRATED and not report.tried
    one_class = pd.Series(["yes"] * len(y))
    chosen, report = choose_calibration(model, X, one_class, X, y, ["sigmoid"])
    assert chosen is model and "one class only" in report.note


def test_a_calibrated_factory_model_is_on_the_serving_allowlist():
    from tests.serving.model_factory import fit_model, make_target

    model, X, task = fit_model("hist_gradient_boosting", "binary", n_rows=300)
    model = calibrated(model, X, make_target(X, task), "isotonic")
    assert trusted_types(skops.io.get_untrusted_types(data=skops.io.dumps(model)))
