"""ZenML materializers for the project's own artifact types.

- every `Report` dataclass: JSON on disk, its `to_html()` as the dashboard visualization;
- whylogs profiles: in materializers/whylogs_profile.py, registered by the steps that return profiles, so that a
  pipeline's DAG compiles without importing whylogs (importable from here too, for artifacts saved before);
- scikit-learn models: skops, loaded back under a type allowlist, never pickle;
- pandas DataFrames: ZenML's parquet materializer, except that a missing text value comes back as NaN (parquet hands
  back None, which scikit-learn's imputers would not treat as missing).
Importing this module registers them.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Type

from zenml.enums import ArtifactType, VisualizationType
from zenml.materializers.base_materializer import BaseMaterializer

from materializers.report_base import Report

REPORT_FILE = "report.json"
REPORT_HTML = "report.html"


class ReportMaterializer(BaseMaterializer):
    """Stores a Report as JSON and shows its HTML view in the dashboard."""

    ASSOCIATED_TYPES = (Report,)
    ASSOCIATED_ARTIFACT_TYPE = ArtifactType.DATA_ANALYSIS

    def load(self, data_type: Type[Any]) -> Any:
        with self.artifact_store.open(os.path.join(self.uri, REPORT_FILE), "r") as f:
            return data_type.from_json(f.read())

    def save(self, data: Report) -> None:
        with self.artifact_store.open(os.path.join(self.uri, REPORT_FILE), "w") as f:
            f.write(data.to_json())

    def save_visualizations(self, data: Report) -> Dict[str, VisualizationType]:
        path = os.path.join(self.uri, REPORT_HTML)
        with self.artifact_store.open(path, "w") as f:
            f.write(data.to_html())
        return {path: VisualizationType.HTML}

    def extract_metadata(self, data: Report) -> Dict[str, Any]:
        summary = {}
        for key in ("passed", "detected", "action", "decision", "version", "primary_metric", "fingerprint"):
            value = getattr(data, key, None)
            if isinstance(value, (str, int, float, bool)):
                summary[key] = value
        metrics = getattr(data, "metrics", None)
        if isinstance(metrics, dict):
            summary.update({k: v for k, v in metrics.items() if isinstance(v, (int, float))})
        return summary


class SkopsModelMaterializer(BaseMaterializer):
    """scikit-learn estimators and pipelines as skops files (no pickle on load)."""

    from sklearn.base import BaseEstimator

    ASSOCIATED_TYPES = (BaseEstimator,)
    ASSOCIATED_ARTIFACT_TYPE = ArtifactType.MODEL
    FILE = "model.skops"

    def load(self, data_type: Type[Any]) -> Any:
        from materializers.skops_io import loads

        with self.artifact_store.open(os.path.join(self.uri, self.FILE), "rb") as f:
            return loads(f.read())

    def save(self, data: Any) -> None:
        from materializers.skops_io import dumps

        with self.artifact_store.open(os.path.join(self.uri, self.FILE), "wb") as f:
            f.write(dumps(data))

    def extract_metadata(self, data: Any) -> Dict[str, Any]:
        steps = getattr(data, "steps", None)
        return {"estimator": type(steps[-1][1] if steps else data).__name__, "params": json.dumps(
            {k: str(v) for k, v in data.get_params(deep=False).items() if k != "steps"})[:1000]}


def _faithful_pandas_materializer() -> type:
    import pandas as pd
    from zenml.integrations.pandas.materializers.pandas_materializer import PandasMaterializer
    from zenml.materializers.materializer_registry import materializer_registry

    class FaithfulPandasMaterializer(PandasMaterializer):
        """Parquet round trip that keeps NaN as the one missing-value marker in text columns."""

        ASSOCIATED_TYPES = (pd.DataFrame,)

        def save(self, data: Any) -> None:
            # zstd instead of ZenML's gzip: a 1M-row split step went from ~15 s to ~5 s (bench/training.py). The
            # file keeps ZenML's name; parquet records its codec, so ZenML's own loader reads it too.
            if isinstance(data, pd.DataFrame) and self.pyarrow_exists:
                with self.artifact_store.open(self.parquet_path, mode="wb") as f:
                    data.to_parquet(f, compression="zstd")
            else:
                super().save(data)

        def load(self, data_type: Type[Any]) -> Any:
            from core.frames import normalize_missing

            data = super().load(data_type)
            return normalize_missing(data) if isinstance(data, pd.DataFrame) else data

    materializer_registry.register_and_overwrite_type(pd.DataFrame, FaithfulPandasMaterializer)
    return FaithfulPandasMaterializer


FaithfulPandasMaterializer = _faithful_pandas_materializer()


def __getattr__(name: str) -> Any:
    # Profiles saved before the whylogs materializer moved name it by this module's path.
    if name in ("WhylogsProfileMaterializer", "profile_summary_html"):
        from materializers import whylogs_profile

        return getattr(whylogs_profile, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
