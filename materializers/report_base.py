"""Base class of the project's report artifacts: JSON to store, HTML to show.

Plain Python (no ZenML import) so that step logic and tests can build reports without ZenML;
`materializers.report_materializer` stores any subclass as JSON and renders `to_html()` in the dashboard.
"""

from __future__ import annotations

import dataclasses
import html
import json
from typing import Any, ClassVar, Dict, Type, TypeVar

R = TypeVar("R", bound="Report")

_REGISTRY: Dict[str, Type["Report"]] = {}


class Report:
    """A dataclass artifact that round-trips through JSON and renders as HTML.

    Subclasses are dataclasses whose fields are JSON-compatible (str, int, float, bool, None, lists and dicts of
    those). Override `from_dict` when a field holds nested dataclasses, and `to_html` for a richer view.
    """

    title: ClassVar[str] = "Report"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__qualname__] = cls

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: Type[R], data: Dict[str, Any]) -> R:
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, default=str)

    @classmethod
    def from_json(cls: Type[R], text: str) -> R:
        return cls.from_dict(json.loads(text))

    def to_html(self) -> str:
        """A generic view: one table row per field. Subclasses override for charts and highlights."""
        rows = "".join(
            f"<tr><th>{html.escape(str(k))}</th><td><pre>{html.escape(json.dumps(v, indent=1, default=str))}</pre></td></tr>"
            for k, v in self.to_dict().items()
        )
        return html_page(self.title, f"<table>{rows}</table>")


def html_page(title: str, body: str) -> str:
    """Wraps a report body in a small self-contained HTML page (no external assets: the dashboard is offline)."""
    style = (
        "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}"
        "th{background:#f3f3f3}.fail{color:#b00020;font-weight:600}.pass{color:#1b7f3b;font-weight:600}"
        "pre{margin:0;white-space:pre-wrap}img{max-width:100%}"
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body><h2>{html.escape(title)}</h2>{body}</body></html>"
    )
