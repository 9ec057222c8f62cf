"""ZenML materializers for the project's own artifact types.

- every `Report` dataclass: JSON on disk, its `to_html()` as the dashboard visualization;
- whylogs profiles (DatasetProfileView): whylogs' binary format plus an HTML column summary (ZenML's own whylogs
  materializer is not usable: its integration pins whylogs~=1.0.5);
- scikit-learn models: skops, loaded back under a type allowlist, never pickle;
- pandas DataFrames: ZenML's parquet materializer, except that a missing text value comes back as NaN (parquet hands
  back None, which scikit-learn's imputers would not treat as missing).
Importing this module registers them.
"""

from __future__ import annotations

import html
import json
import os
from typing import Any, Dict, Type

from zenml.enums import ArtifactType, VisualizationType
from zenml.materializers.base_materializer import BaseMaterializer

from materializers.report_base import Report, html_page

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


def _whylogs_view_type() -> type:
    from core.whylogs_env import why  # noqa: F401  (numpy shim before whylogs internals load)
    from whylogs.core import DatasetProfileView

    return DatasetProfileView


class WhylogsProfileMaterializer(BaseMaterializer):
    """whylogs DatasetProfileView: whylogs' own binary format, with an HTML summary per column."""

    ASSOCIATED_TYPES = (_whylogs_view_type(),)
    ASSOCIATED_ARTIFACT_TYPE = ArtifactType.STATISTICS
    FILE = "profile.bin"

    def load(self, data_type: Type[Any]) -> Any:
        with self.artifact_store.open(os.path.join(self.uri, self.FILE), "rb") as f:
            return data_type.deserialize(f.read())

    def save(self, data: Any) -> None:
        with self.artifact_store.open(os.path.join(self.uri, self.FILE), "wb") as f:
            f.write(data.serialize())

    def save_visualizations(self, data: Any) -> Dict[str, VisualizationType]:
        path = os.path.join(self.uri, "profile.html")
        with self.artifact_store.open(path, "w") as f:
            f.write(profile_summary_html(data))
        return {path: VisualizationType.HTML}

    def extract_metadata(self, data: Any) -> Dict[str, Any]:
        columns = data.get_columns()
        n = next(iter(columns.values())).get_metric("counts").n.value if columns else 0
        return {"columns": len(columns), "rows": int(n)}


def profile_summary_html(view: Any) -> str:
    """One row per column: count, nulls, inferred types, distinct estimate, mean and range."""
    frame = view.to_pandas()
    wanted = {
        "counts/n": "rows",
        "counts/null": "nulls",
        "types/integral": "ints",
        "types/fractional": "floats",
        "types/string": "strings",
        "cardinality/est": "distinct (est.)",
        "distribution/mean": "mean",
        "distribution/min": "min",
        "distribution/max": "max",
    }
    present = [c for c in wanted if c in frame.columns]
    head = "".join(f"<th>{wanted[c]}</th>" for c in present)
    rows = []
    for column, values in frame[present].iterrows():
        cells = "".join(f"<td>{_fmt(values[c])}</td>" for c in present)
        rows.append(f"<tr><th>{html.escape(str(column))}</th>{cells}</tr>")
    body = f"<table><tr><th>column</th>{head}</tr>{''.join(rows)}</table>"
    return html_page("whylogs profile", body)


def _fmt(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return html.escape(str(value))
    if number != number:  # NaN: metric not applicable to this column
        return ""
    return f"{int(number)}" if number.is_integer() else f"{number:.4g}"


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
