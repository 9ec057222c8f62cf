"""DataFrame conventions every layer shares (training, artifacts, serving parity)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def normalize_missing(df: pd.DataFrame) -> pd.DataFrame:
    """One marker for a missing value: NaN. Text columns can hold None, which scikit-learn's imputers do not treat
    as missing (the encoder would learn None as a category) while serving receives JSON null for it; after this,
    training, offline evaluation and the endpoint all impute the same way."""
    text = [c for c in df.columns if df[c].dtype == object]
    if not text:
        return df
    out = df.copy()
    out[text] = out[text].where(out[text].notna(), np.nan)
    return out
