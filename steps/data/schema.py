"""The data schema artifact: what the data is, what each column became, and the contract later batches must meet."""

from __future__ import annotations

import dataclasses
import html
from typing import Any, Dict, List

from materializers.report_base import Report, html_page


@dataclasses.dataclass
class DataSchema(Report):
    """The feature plan of a dataset plus its fingerprint and the data contract inferred from it."""

    title = "Data schema"
    source: str
    fingerprint: str
    n_rows: int
    target: str
    task: str
    numeric: List[str]
    categorical: List[str]
    dropped: Dict[str, str]
    decisions: List[str]
    contract: Dict[str, Any]
    classes: List[Any] = dataclasses.field(default_factory=list)
    warnings: List[str] = dataclasses.field(default_factory=list)  # e.g. possible leakage; nothing was changed

    @property
    def features(self) -> List[str]:
        return [*self.numeric, *self.categorical]

    def to_html(self) -> str:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in self.decisions)
        dropped = "".join(
            f"<tr><td>{html.escape(c)}</td><td>{html.escape(r)}</td></tr>" for c, r in self.dropped.items()
        )
        warnings = "".join(f"<li class='fail'>{html.escape(w)}</li>" for w in self.warnings)
        body = (
            f"<p><b>{html.escape(self.source)}</b>: {self.n_rows} rows, task <b>{self.task}</b>, target "
            f"<b>{html.escape(self.target)}</b>, fingerprint <code>{self.fingerprint}</code></p>"
            + (f"<h3>Warnings</h3><ul>{warnings}</ul>" if warnings else "")
            + f"<p>{len(self.numeric)} numeric, {len(self.categorical)} categorical features; "
            f"{len(self.dropped)} column(s) not used as features.</p>"
            + (f"<h3>Not used as features</h3><table><tr><th>column</th><th>why</th></tr>{dropped}</table>"
               if dropped else "")
            + f"<h3>Every decision</h3><ul>{items}</ul>"
        )
        return html_page(self.title, body)

