"""In-process scoring gives the table the endpoint path gives: same columns, same class names, same values."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from steps.deployment.endpoint_client import predictions_frame
from steps.inference.scoring import score_frame


@pytest.fixture()
def frame():
    rng = np.random.default_rng(0)
    return pd.DataFrame({"x1": rng.normal(size=80), "x2": rng.normal(size=80), "note": ["n/a"] * 80})


def test_classifier_scores_match_the_endpoint_encoding(frame):
    labels = np.where(frame["x1"] + frame["x2"] > 0, 10, 20)
    model = LogisticRegression().fit(frame[["x1", "x2"]], labels)
    scored = score_frame(model, frame, ["x1", "x2"], "binary")
    # What the endpoint answers: class names as strings, probabilities in the model's class order.
    expected = predictions_frame(["10", "20"], model.predict_proba(frame[["x1", "x2"]]))
    pd.testing.assert_frame_equal(scored, expected)
    assert list(scored.columns) == ["prediction", "proba_10", "proba_20"]
    assert scored["prediction"].tolist() == [str(v) for v in model.predict(frame[["x1", "x2"]])]


def test_regressor_scores_are_one_prediction_column(frame):
    model = LinearRegression().fit(frame[["x1"]], 3 * frame["x1"] + 1)
    scored = score_frame(model, frame, ["x1"], "regression")
    assert list(scored.columns) == ["prediction"]
    np.testing.assert_allclose(scored["prediction"], 3 * frame["x1"] + 1)


def test_a_missing_feature_is_named(frame):
    model = LinearRegression().fit(frame[["x1", "x2"]], frame["x1"])
    with pytest.raises(ValueError, match="batch lacks feature column\\(s\\) x2"):
        score_frame(model, frame.drop(columns=["x2"]), ["x1", "x2"], "regression")
