"""Builds the servable model: preprocessing and estimator as one scikit-learn Pipeline.

One object for training and serving means the endpoint applies exactly the transformations training applied.
"""

from __future__ import annotations

from typing import Any, Dict, List

from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

# estimator name -> (classifier class, regressor class); None where the estimator has no such variant.
ESTIMATORS: Dict[str, tuple] = {
    "logistic_regression": (LogisticRegression, None),
    "ridge": (None, Ridge),
    "random_forest": (RandomForestClassifier, RandomForestRegressor),
    "hist_gradient_boosting": (HistGradientBoostingClassifier, HistGradientBoostingRegressor),
}

MODEL_STEP = "model"


class ModelConfigError(ValueError):
    """The estimator or its parameters in the training config are not usable."""


def estimator_class(name: str, task: str) -> type:
    """The scikit-learn class for estimator `name` on `task`, with a clear error for unknown or mismatched names."""
    if name not in ESTIMATORS:
        raise ModelConfigError(f"training.estimator: unknown estimator '{name}'; expected one of {', '.join(ESTIMATORS)}")
    classifier, regressor = ESTIMATORS[name]
    cls = regressor if task == "regression" else classifier
    if cls is None:
        usable = [n for n, (c, r) in ESTIMATORS.items() if (r if task == "regression" else c) is not None]
        raise ModelConfigError(f"training.estimator: '{name}' cannot do {task}; use one of {', '.join(usable)}")
    return cls


def estimator_params(cls: type, params: Dict[str, Any], seed: int) -> Dict[str, Any]:
    """`params` checked against `cls`'s parameters, with the seed (and enough iterations) filled in."""
    accepted = cls().get_params()
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ModelConfigError(
            f"training.params: {cls.__name__} has no parameter(s) {', '.join(unknown)}; "
            f"valid: {', '.join(sorted(accepted))}"
        )
    seeded = dict(params)
    if "random_state" in accepted:
        seeded.setdefault("random_state", seed)
    if cls is LogisticRegression:
        seeded.setdefault("max_iter", 1000)
    return seeded


def build_model(
    numeric: List[str], categorical: List[str], task: str, estimator: str, params: Dict[str, Any], seed: int
) -> Pipeline:
    """Preprocessing (impute, scale, one-hot) and the configured estimator as one Pipeline."""
    cls = estimator_class(estimator, task)
    transformers = []
    if numeric:
        transformers.append(
            ("numeric", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), numeric)
        )
    if categorical:
        transformers.append(
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="most_frequent")),
                        ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                    ]
                ),
                categorical,
            )
        )
    if not transformers:
        raise ModelConfigError("no usable feature columns: every column was dropped (see the feature plan)")
    return Pipeline(
        [
            ("preprocess", ColumnTransformer(transformers, remainder="drop")),
            (MODEL_STEP, cls(**estimator_params(cls, params, seed))),
        ]
    )


def search_space(space: Dict[str, List[Any]], estimator: str, task: str) -> Dict[str, List[Any]]:
    """Maps config search-space keys (estimator parameter names) onto Pipeline parameter names."""
    cls = estimator_class(estimator, task)
    accepted = cls().get_params()
    grid = {}
    for key, values in space.items():
        if key not in accepted:
            raise ModelConfigError(
                f"training.search.space: {cls.__name__} has no parameter '{key}'; valid: {', '.join(sorted(accepted))}"
            )
        if not isinstance(values, list) or not values:
            raise ModelConfigError(f"training.search.space.{key}: expected a non-empty list of values, got {values!r}")
        grid[f"{MODEL_STEP}__{key}"] = values
    return grid
