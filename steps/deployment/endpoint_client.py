"""A small client of the Seldon v1 prediction protocol, used for parity checks, batch scoring and `run.py predict`."""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import pandas as pd


class EndpointError(RuntimeError):
    """The endpoint refused a request or could not be reached."""


def seldon_payload(frame: pd.DataFrame) -> Dict[str, Any]:
    """A Seldon v1 request: feature names plus rows, missing values as JSON null."""
    rows: List[List[Any]] = [
        [None if _missing(v) else (v.item() if hasattr(v, "item") else v) for v in record]
        for record in frame.itertuples(index=False, name=None)
    ]
    return {"data": {"names": list(frame.columns), "ndarray": rows}}


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def predict(url: str, frame: pd.DataFrame, batch_rows: int = 500, timeout: float = 60.0) -> Tuple[List[str], np.ndarray]:
    """(output names, output values) for every row of `frame`: class probabilities or regression values."""
    names, values, _ = predict_with_ids(url, frame, batch_rows, timeout)
    return names, values


def predict_with_ids(url: str, frame: pd.DataFrame, batch_rows: int = 500,
                     timeout: float = 60.0) -> Tuple[List[str], np.ndarray, Optional[List[str]]]:
    """(output names, output values, prediction ids) for every row of `frame`. The ids are the ones a recording
    endpoint returns in `meta.tags.prediction_ids` (what feedback joins on); None when it does not record."""
    import requests

    names: List[str] = []
    parts = []
    ids: Optional[List[str]] = []
    with requests.Session() as session:
        for start in range(0, len(frame), batch_rows):
            try:
                response = session.post(url, json=seldon_payload(frame.iloc[start:start + batch_rows]), timeout=timeout)
            except requests.RequestException as exc:
                raise EndpointError(f"cannot reach the endpoint {url}: {exc}") from None
            if response.status_code != 200:
                raise EndpointError(f"endpoint {url} answered {response.status_code}: {response.text[:300]}")
            body = response.json()
            data = body["data"]
            names = [str(n) for n in data.get("names") or []]
            parts.append(np.asarray(data["ndarray"], dtype=float))
            batch_ids = (((body.get("meta") or {}).get("tags") or {}).get("prediction_ids"))
            if ids is not None and isinstance(batch_ids, list) and len(batch_ids) == len(parts[-1]):
                ids.extend(str(i) for i in batch_ids)
            else:
                ids = None  # one batch without ids (recording off or sampled out): no partial id column
    return names, np.vstack(parts) if parts else np.empty((0, 0)), ids


def predictions_frame(names: List[str], values: np.ndarray) -> pd.DataFrame:
    """Endpoint outputs as a table: the predicted class and one probability column per class (or the value)."""
    if names == ["prediction"] or values.shape[1] == 1 and len(names) <= 1:
        return pd.DataFrame({"prediction": values[:, 0]})
    frame = pd.DataFrame({"prediction": np.asarray(names, dtype=object)[values.argmax(axis=1)]})
    for i, name in enumerate(names):
        frame[f"proba_{name}"] = values[:, i]
    return frame
