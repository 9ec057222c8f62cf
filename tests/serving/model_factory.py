"""Train and save models exactly the way the project's training step does, for serving tests and benchmarks.

Runs in the main environment (mlflow, pandas). The pipeline shape and the `mlflow.sklearn.save_model` call mirror the
training step: preprocessing and estimator ship as one skops-serialized sklearn Pipeline with an inferred signature.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Tuple

import numpy as np
import pandas as pd

NUMERIC = ["age", "income", "tenure_months", "balance"]
CATEGORICAL = ["job", "region"]
JOBS = ["admin", "technician", "services", "management", "retired"]
REGIONS = ["north", "south", "east", "west"]


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


def make_target(frame: pd.DataFrame, kind: str, labels: str, seed: int = 0) -> pd.Series:
    rng = np.random.default_rng(seed + 1)
    score = (
        (frame["age"] - 50) / 20
        + (frame["income"] - 50_000) / 15_000
        + frame["job"].isin(["management", "retired"]) * 1.0
        + rng.normal(0, 0.5, len(frame))
    )
    if kind == "regression":
        return pd.Series(score * 10 + 100, name="target")
    codes = np.digitize(score, [-0.5, 0.7])  # three classes
    if labels == "str":
        return pd.Series(np.array(["low", "mid", "high"])[codes], name="target")
    return pd.Series(codes.astype("int64"), name="target")


def build_pipeline(estimator):
    """The project's model shape: ColumnTransformer preprocessing + estimator in one Pipeline."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    categorical = Pipeline(
        [("impute", SimpleImputer(strategy="most_frequent")), ("encode", OneHotEncoder(handle_unknown="ignore"))]
    )
    preprocess = ColumnTransformer([("numeric", numeric, NUMERIC), ("categorical", categorical, CATEGORICAL)])
    return Pipeline([("preprocess", preprocess), ("model", estimator)])


def make_estimator(name: str):
    from sklearn import ensemble, linear_model

    return {
        "logreg": lambda: linear_model.LogisticRegression(max_iter=500),
        "rf": lambda: ensemble.RandomForestClassifier(n_estimators=50, max_depth=8, random_state=0),
        "hgb": lambda: ensemble.HistGradientBoostingClassifier(max_iter=50, random_state=0),
        "ridge": lambda: linear_model.Ridge(),
        "rf_reg": lambda: ensemble.RandomForestRegressor(n_estimators=30, max_depth=8, random_state=0),
        "hgb_reg": lambda: ensemble.HistGradientBoostingRegressor(max_iter=50, random_state=0),
    }[name]()


REGRESSORS = {"ridge", "rf_reg", "hgb_reg"}


def identity(X):
    """A project function inside a model: skops can only rebuild it by importing it, so serving must refuse it."""
    return X


def train_and_save(
    path: Path, estimator: str = "logreg", labels: Literal["int", "str"] = "str", n_rows: int = 2000
) -> Tuple[object, pd.DataFrame]:
    """Fit the project-shaped pipeline and save it as an MLflow skops model at `path`; returns (model, X)."""
    import mlflow.sklearn
    import skops.io

    from serving.artifact import trusted_types
    from mlflow.models import infer_signature

    kind = "regression" if estimator in REGRESSORS else "classification"
    X = make_frame(n_rows)
    y = make_target(X, kind, labels)
    model = build_pipeline(make_estimator(estimator)).fit(X, y)
    sample = X.head(50)
    output = model.predict(sample) if kind == "regression" else model.predict_proba(sample)
    mlflow.sklearn.save_model(
        model,
        str(path),
        serialization_format="skops",
        signature=infer_signature(sample, output),
        input_example=X.head(5),
        # explicit pins: inferring them re-loads the model in a subprocess (~20 s) and changes nothing served
        pip_requirements=["scikit-learn==1.9.1", "skops==0.16.0"],
        skops_trusted_types=trusted_types(skops.io.get_untrusted_types(data=skops.io.dumps(model))),
    )
    return model, X
