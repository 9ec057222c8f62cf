"""Model decay: metrics on a labelled batch compared with the champion's own evaluation.

Labels often arrive after the batch was scored, so this runs on whatever batch has labels now (it may be an
earlier one). Metrics are computed by the same `steps.evaluation.metrics.evaluate` that produced the champion's
reference figures, so the comparison is like for like.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, List, Optional

import numpy as np

from materializers.report_base import Report, html_page
from steps.evaluation.metrics import LOWER_IS_BETTER, evaluate

# Metrics where a larger value is worse; for every other metric a drop is reference - current.


@dataclass
class DecayReport(Report):
    """Current vs reference metrics; `drops[m]` is how much worse the model got (positive = worse)."""

    title: ClassVar[str] = "Model decay"

    task: str
    n_rows: int
    current_metrics: Dict[str, float]
    reference_metrics: Dict[str, float]
    drops: Dict[str, float]
    max_drop: Dict[str, float]
    decayed: bool
    reasons: List[str] = field(default_factory=list)

    def to_html(self) -> str:
        rows = []
        for name in sorted(self.current_metrics):
            drop = self.drops.get(name)
            limit = self.max_drop.get(name)
            bad = drop is not None and limit is not None and drop > limit
            rows.append(
                f"<tr{' class=fail' if bad else ''}><td>{html.escape(name)}</td>"
                f"<td>{self.reference_metrics.get(name, float('nan')):.4f}</td>"
                f"<td>{self.current_metrics[name]:.4f}</td>"
                f"<td>{'–' if drop is None else f'{drop:+.4f}'}</td><td>{'–' if limit is None else limit}</td></tr>"
            )
        verdict = "<p class='fail'>decayed</p>" if self.decayed else "<p class='pass'>within limits</p>"
        reasons = "".join(f"<li>{html.escape(r)}</li>" for r in self.reasons)
        body = (
            f"{verdict}<p>{self.task} task, {self.n_rows} labelled rows.</p>"
            "<table><tr><th>metric</th><th>reference</th>"
            f"<th>current</th><th>drop</th><th>max drop</th></tr>{''.join(rows)}</table><ul>{reasons}</ul>"
        )
        return html_page(self.title, body)


def evaluate_decay(
    y_true: Any,
    y_pred: Any,
    y_proba: Any,
    task: str,
    reference_metrics: Dict[str, float],
    *,
    max_drop: Dict[str, float],
    classes: Optional[list] = None,
) -> DecayReport:
    """Compares the metrics of (y_true, y_pred[, y_proba]) with `reference_metrics`.

    `max_drop` maps metric name -> largest tolerated worsening (absolute, in the metric's units); the model has
    decayed when any metric worsens by more than its limit. Every metric in `max_drop` must be both computable for
    `task` and present in `reference_metrics`.
    """
    if not max_drop:
        raise ValueError("max_drop is empty: name at least one metric to watch, e.g. {'accuracy': 0.05}")
    for name, limit in max_drop.items():
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not math.isfinite(limit) or limit < 0:
            raise ValueError(f"max_drop[{name!r}]: expected a non-negative number, got {limit!r}")
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} rows but y_pred has {len(y_pred)}")
    if len(y_true) == 0:
        raise ValueError("no labelled rows to evaluate decay on")

    if task == "classification":  # the evaluation names the kind of classification
        labels = set(np.asarray(y_true).tolist()) | set(np.asarray(y_pred).tolist())
        task = "binary" if len(labels) <= 2 else "multiclass"
    if task not in ("binary", "multiclass", "regression"):
        raise ValueError(f"task must be 'binary', 'multiclass', 'classification' or 'regression', got {task!r}")
    current = evaluate(y_true, y_pred, task, y_proba=y_proba, classes=classes).metrics
    unknown = sorted(set(max_drop) - set(current))
    if unknown:
        raise ValueError(
            f"max_drop names metrics {unknown} that a {task} evaluation does not give; it gives {sorted(current)}")
    absent = sorted(set(max_drop) - set(reference_metrics))
    if absent:
        raise ValueError(f"max_drop names metrics {absent} missing from the champion's reference metrics "
                         f"{sorted(reference_metrics)}")

    drops: Dict[str, float] = {}
    for name in sorted(set(current) & set(reference_metrics)):
        ref, cur = float(reference_metrics[name]), float(current[name])
        drops[name] = cur - ref if name in LOWER_IS_BETTER else ref - cur
    reasons = [
        f"{name} worsened by {drops[name]:.4f} (reference {float(reference_metrics[name]):.4f}, "
        f"current {current[name]:.4f}), more than the allowed {limit}"
        for name, limit in sorted(max_drop.items())
        if drops[name] > limit
    ]
    return DecayReport(
        task=task,
        n_rows=len(y_true),
        current_metrics={k: float(v) for k, v in current.items()},
        reference_metrics={k: float(v) for k, v in reference_metrics.items()},
        drops=drops,
        max_drop={k: float(v) for k, v in max_drop.items()},
        decayed=bool(reasons),
        reasons=reasons,
    )
