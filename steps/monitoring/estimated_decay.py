"""Estimated decay: performance estimated without labels (CBPE, DLE) compared with the champion's holdout metrics,
under the same `max_drop` limits as realized decay (steps/monitoring/decay.py).

Conservative rule: a metric counts as decayed only when its whole band lies past the limit, i.e. even the band's
optimistic end (the upper end of accuracy, the lower end of an error) is worse than reference - max_drop. An estimate
is noisier than a measurement and alerting on a point estimate would fire on sampling noise alone; the point estimate
is still shown. Once labels exist, realized decay decides and this report shows the estimate next to the realized
figures.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, List, Optional

from materializers.report_base import Report, html_page
from steps.evaluation.metrics import LOWER_IS_BETTER


@dataclass
class EstimatedDecayReport(Report):
    """Estimated metrics with their band vs the reference; `drops[m]`: worsening of the point estimate."""

    title: ClassVar[str] = "Estimated decay (no labels needed)"

    task: str
    method: str
    n_rows: int
    estimates: Dict[str, Dict[str, float]]
    reference_metrics: Dict[str, float]
    drops: Dict[str, float]
    max_drop: Dict[str, float]
    decayed: bool
    reasons: List[str] = field(default_factory=list)
    realized: Dict[str, float] = field(default_factory=dict)
    calibration: Dict[str, float] = field(default_factory=dict)
    decayed_metrics: List[str] = field(default_factory=list)

    def to_html(self) -> str:
        return html_page(self.title, f"{self.verdict_html()}{self.table_html()}"
                         f"<ul>{''.join(f'<li>{html.escape(r)}</li>' for r in self.reasons)}</ul>")

    def verdict_html(self) -> str:
        verdict = "<p class='fail'>estimated decay</p>" if self.decayed else "<p class='pass'>estimate within limits</p>"
        quality = ", ".join(f"{k} {v:.4f}" for k, v in sorted(self.calibration.items()))
        return (f"{verdict}<p>{self.task} task, {self.n_rows} rows, estimated by {html.escape(self.method)} "
                f"(an estimate, not a measurement){f'; {html.escape(quality)}' if quality else ''}.</p>")

    def table_html(self) -> str:
        rows = []
        for name, band in sorted(self.estimates.items()):
            limit, realized = self.max_drop.get(name), self.realized.get(name)
            rows.append(
                f"<tr{' class=fail' if name in self.decayed_metrics else ''}>"
                f"<td>{html.escape(name)}</td><td>{self.reference_metrics.get(name, math.nan):.4f}</td>"
                f"<td>{band['estimate']:.4f}</td><td>{band['lower']:.4f} – {band['upper']:.4f}</td>"
                f"<td>{'–' if realized is None else f'{realized:.4f}'}</td>"
                f"<td>{'–' if limit is None else limit}</td></tr>")
        return ("<table><tr><th>metric</th><th>reference</th><th>estimated</th><th>band</th><th>realized</th>"
                f"<th>max drop</th></tr>{''.join(rows)}</table>")


def _worsening(name: str, reference: float, value: float) -> float:
    return value - reference if name in LOWER_IS_BETTER else reference - value


def evaluate_estimated_decay(
    estimates: Dict[str, Dict[str, float]], reference_metrics: Dict[str, float], max_drop: Dict[str, float], *,
    task: str, method: str, n_rows: int, realized: Optional[Dict[str, float]] = None,
    calibration: Optional[Dict[str, float]] = None,
) -> EstimatedDecayReport:
    """Compares `estimates` ({metric: {'estimate', 'lower', 'upper'}}) with the reference under `max_drop`; only the
    metrics both estimated and limited count (e.g. f1_macro is limited but not estimated: it waits for labels)."""
    drops: Dict[str, float] = {}
    reasons: List[str] = []
    decayed: List[str] = []
    for name, band in sorted(estimates.items()):
        if name not in reference_metrics or not math.isfinite(band["estimate"]):
            continue
        reference = float(reference_metrics[name])
        drops[name] = _worsening(name, reference, band["estimate"])
        limit = max_drop.get(name)
        if limit is None:
            continue
        optimistic = band["lower"] if name in LOWER_IS_BETTER else band["upper"]
        if _worsening(name, reference, optimistic) > limit:
            decayed.append(name)
            reasons.append(
                f"estimated {name} {band['estimate']:.4f} (band {band['lower']:.4f} – {band['upper']:.4f}, "
                f"{method}) is worse than the reference {reference:.4f} by more than the allowed {limit} across "
                "its whole band")
    return EstimatedDecayReport(
        task=task, method=method, n_rows=n_rows,
        estimates={k: {kk: float(vv) for kk, vv in v.items()} for k, v in estimates.items()},
        reference_metrics={k: float(v) for k, v in reference_metrics.items()}, drops=drops,
        max_drop={k: float(v) for k, v in max_drop.items()}, decayed=bool(reasons), reasons=reasons,
        realized={k: float(v) for k, v in (realized or {}).items() if k in estimates},
        calibration=dict(calibration or {}), decayed_metrics=decayed,
    )
