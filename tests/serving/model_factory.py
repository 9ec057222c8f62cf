"""Models for serving tests and benchmarks, built by the training code itself (no copy of the recipe kept here).

`steps.training.model_factory.build_model` makes the Pipeline and `steps.training.tracking.model_save_args` saves it
exactly as the training step logs it (skops under the serving allowlist, signature, input example, pins). Only the
data is made up. Runs in the main environment (mlflow, pandas).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterator, Literal, Optional, Tuple

import numpy as np
import pandas as pd

NUMERIC = ["age", "income", "tenure_months", "balance"]
CATEGORICAL = ["job", "region"]
COLUMNS = NUMERIC + CATEGORICAL
JOBS = ["admin", "technician", "services", "management", "retired"]
REGIONS = ["north", "south", "east", "west"]
SEED = 0
# Small but real settings (they are training config, not a different recipe): tests stay quick.
TEST_PARAMS: Dict[str, dict] = {
    "random_forest": {"n_estimators": 30, "max_depth": 8},
    "hist_gradient_boosting": {"max_iter": 50},
}
# Short names older callers use -> (factory estimator, task when none is given)
ALIASES = {
    "logreg": ("logistic_regression", "multiclass"),
    "rf": ("random_forest", "multiclass"),
    "hgb": ("hist_gradient_boosting", "multiclass"),
    "ridge": ("ridge", "regression"),
    "rf_reg": ("random_forest", "regression"),
    "hgb_reg": ("hist_gradient_boosting", "regression"),
}


def make_frame(n_rows: int, seed: int = 0, missing: bool = True) -> pd.DataFrame:
    """A mixed-type feature frame: floats, ints, strings, and a few missing values for the imputers."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 90, n_rows).astype("int64"),
            "income": rng.normal(50_000, 15_000, n_rows).round(2),
            "tenure_months": rng.integers(0, 240, n_rows).astype("int64"),
            "balance": rng.normal(1_000, 3_000, n_rows).round(2),
            "job": rng.choice(JOBS, n_rows),
            "region": rng.choice(REGIONS, n_rows),
        }
    )
    if missing:
        frame.loc[frame.sample(frac=0.02, random_state=seed).index, "balance"] = np.nan
    return frame


def make_target(frame: pd.DataFrame, task: str, labels: str = "str", seed: int = 0) -> pd.Series:
    """A noisy target for `task` (binary, multiclass or regression); class labels as strings or ints."""
    rng = np.random.default_rng(seed + 1)
    score = (
        (frame["age"] - 50) / 20
        + (frame["income"] - 50_000) / 15_000
        + frame["job"].isin(["management", "retired"]) * 1.0
        + rng.normal(0, 0.5, len(frame))
    )
    if task == "regression":
        return pd.Series(score * 10 + 100, name="target")
    names = ["low", "mid", "high"] if task == "multiclass" else ["no", "yes"]
    codes = np.digitize(score, [-0.5, 0.7] if task == "multiclass" else [0.0])
    if labels == "str":
        return pd.Series(np.array(names)[codes], name="target")
    return pd.Series(codes.astype("int64"), name="target")


def resolve(estimator: str, task: Optional[str] = None) -> Tuple[str, str]:
    """(factory estimator name, task) for a factory name or one of the short ALIASES."""
    name, default_task = ALIASES.get(estimator, (estimator, "regression" if estimator == "ridge" else "multiclass"))
    return name, task or default_task


def supported_combinations() -> Iterator[Tuple[str, str]]:
    """Every (estimator, task) the training model factory supports."""
    from steps.training.model_factory import ESTIMATORS

    for name, (classifier, regressor) in ESTIMATORS.items():
        if classifier is not None:
            yield name, "binary"
            yield name, "multiclass"
        if regressor is not None:
            yield name, "regression"


def fit_model(estimator: str, task: Optional[str] = None, labels: str = "str", n_rows: int = 400,
              frame: Optional[pd.DataFrame] = None, params: Optional[dict] = None):
    """Fit the Pipeline the training step builds (`build_model`) on made-up data; returns (model, X, task)."""
    from steps.training.model_factory import build_model

    name, task = resolve(estimator, task)
    X = make_frame(n_rows) if frame is None else frame
    y = make_target(X, task, labels)
    model = build_model(NUMERIC, CATEGORICAL, task, name, {**TEST_PARAMS.get(name, {}), **(params or {})}, SEED)
    return model.fit(X, y), X, task


def save_model(model, X: pd.DataFrame, task: str, path: Path) -> None:
    """Save as an MLflow model directory exactly the way the training step logs it."""
    import mlflow.sklearn

    from steps.training.tracking import model_save_args

    mlflow.sklearn.save_model(model, str(path), **model_save_args(model, X.head(5), task))


def train_and_save(
    path: Path, estimator: str = "logistic_regression", labels: Literal["int", "str"] = "str", n_rows: int = 2000,
    task: Optional[str] = None, calibration: Optional[str] = None,
) -> Tuple[object, pd.DataFrame]:
    """Fit the training step's Pipeline and save it as the training step does, at `path`; returns (model, X).
    `calibration`: a method of steps/training/calibration.py, fitted on other rows, as the calibration step does."""
    model, X, task = fit_model(estimator, task, labels, n_rows)
    if calibration:
        from steps.training.calibration import calibrated

        aside = make_frame(n_rows // 2, seed=SEED + 11)
        model = calibrated(model, aside, make_target(aside, task, labels, seed=SEED + 11), calibration)
    save_model(model, X, task, path)
    return model, X


def malicious_model():
    """A fitted training Pipeline with `numpy.load` smuggled in front (a FunctionTransformer): what an attacker
    could write into a model file. Every loader must refuse it; returns (model, X, task)."""
    from sklearn.preprocessing import FunctionTransformer

    model, X, task = fit_model("logistic_regression", "binary", n_rows=200)
    model.steps.insert(0, ("load", FunctionTransformer(np.load)))
    return model, X, task


def malicious_model_dir(path: Path) -> Path:
    """`malicious_model()` saved as an MLflow skops model, its types declared trusted as a forger would."""
    import mlflow.sklearn
    import skops.io
    from mlflow.models import infer_signature

    model, X, _ = malicious_model()
    clean = model[1:]
    mlflow.sklearn.save_model(
        model, str(path), serialization_format="skops", input_example=X.head(5),
        signature=infer_signature(X.head(5), clean.predict_proba(X.head(5))),
        pip_requirements=["scikit-learn"],
        skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(model)),
    )
    return path
