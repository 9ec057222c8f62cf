"""In-process batch scoring: a registered model's answers in the table the endpoint path gives."""

from __future__ import annotations

from typing import Any, List

import numpy as np
import pandas as pd

from steps.deployment.endpoint_client import predictions_frame


def score_frame(model: Any, batch: pd.DataFrame, features: List[str], task: str) -> pd.DataFrame:
    """Predictions for every row of `batch`: the predicted class and one probability column per class (classifiers,
    classes named as the endpoint names them), or the predicted value (regression)."""
    missing = [c for c in features if c not in batch.columns]
    if missing:
        raise ValueError(f"batch lacks feature column(s) {', '.join(missing)} the model needs")
    X = batch[features]
    if task == "regression":
        return predictions_frame(["prediction"], np.asarray(model.predict(X), dtype=np.float64).reshape(-1, 1))
    return predictions_frame([str(c) for c in model.classes_], np.asarray(model.predict_proba(X), dtype=np.float64))
