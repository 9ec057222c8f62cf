"""ZenML materializer for whylogs profiles (DatasetProfileView): whylogs' binary format plus an HTML column summary
(ZenML's own whylogs materializer is not usable: its integration pins whylogs~=1.0.5).

Importing this module registers it; the steps that return a profile import it, so that compiling a pipeline's DAG
does not import whylogs (seconds of start-up for a run whose profiling step is cached).
"""

from __future__ import annotations

import html
import os
from typing import Any, Dict, Type

from zenml.enums import ArtifactType, VisualizationType
from zenml.materializers.base_materializer import BaseMaterializer

from materializers.report_base import html_page


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
