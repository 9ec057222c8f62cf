"""Missing text values are NaN before training, so the model imputes them as the endpoint does (JSON null)."""

import numpy as np
import pandas as pd

from core.frames import normalize_missing
from steps.training.model_factory import build_model


def test_none_becomes_nan_and_nothing_else_changes():
    df = pd.DataFrame({"a": [1.0, None, 3.0], "b": ["x", None, "y"], "c": [1, 2, 3]})
    out = normalize_missing(df)
    assert out["b"].iloc[1] is not None and np.isnan(out["b"].iloc[1])
    assert out["b"].tolist()[::2] == ["x", "y"] and out["c"].tolist() == [1, 2, 3]
    assert df["b"].iloc[1] is None  # the input is not modified


def test_trained_model_imputes_none_like_nan():
    rng = np.random.default_rng(0)
    colour = rng.choice(["red", "blue", None], size=400, p=[0.6, 0.3, 0.1]).astype(object)
    df = pd.DataFrame({"x": rng.normal(size=400), "colour": colour})
    y = (df["x"] + (df["colour"] == "red") > 0.5).astype(int)
    clean = normalize_missing(df)
    model = build_model(["x"], ["colour"], "binary", "logistic_regression", {}, seed=0).fit(clean, y)
    encoder = model.named_steps["preprocess"].named_transformers_["categorical"].named_steps["encode"]
    assert [str(c) for c in encoder.categories_[0]] == ["blue", "red"]  # no category learned for "missing"
    probe_nan = pd.DataFrame({"x": [0.1], "colour": [np.nan]}, dtype=object).astype({"x": float})
    probe_mode = pd.DataFrame({"x": [0.1], "colour": ["red"]})
    np.testing.assert_allclose(model.predict_proba(probe_nan), model.predict_proba(probe_mode))
