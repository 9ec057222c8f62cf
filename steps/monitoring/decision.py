"""The monitoring verdict: do nothing, alert a human, or retrain — always with the reasons why."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, List, Optional

from core.config import PolicySection
from materializers.report_base import Report, html_page
from steps.monitoring.decay import DecayReport
from steps.monitoring.drift import DriftReport
from steps.monitoring.estimated_decay import EstimatedDecayReport

ACTIONS = ("none", "alert", "retrain")


@dataclass
class MonitoringDecision(Report):
    """What to do about a monitored batch."""

    title: ClassVar[str] = "Monitoring decision"

    action: str
    reasons: List[str] = field(default_factory=list)
    drift_share: Optional[float] = None
    decayed: Optional[bool] = None
    estimated_decay: Optional[bool] = None
    performance: Optional[Dict[str, Any]] = None  # EstimatedDecayReport.to_dict(): estimated (and realized) metrics
    policy: Dict[str, Any] = field(default_factory=dict)

    def to_html(self) -> str:
        cls = {"none": "pass", "alert": "fail", "retrain": "fail"}[self.action]
        items = "".join(f"<li>{html.escape(r)}</li>" for r in self.reasons) or "<li>nothing to report</li>"
        policy = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in self.policy.items())
        body = f"<p class='{cls}'>action: {self.action}</p><ul>{items}</ul>"
        if self.performance:
            estimated = EstimatedDecayReport.from_dict(self.performance)
            used = "used by the decision" if self.decayed is None else "realized performance decides"
            body += (f"<h3>Estimated performance ({used})</h3>{estimated.verdict_html()}{estimated.table_html()}")
        body += f"<h3>Policy</h3><table>{policy}</table>"
        return html_page(self.title, body)


def decide(
    drift: Optional[DriftReport],
    decay: Optional[DecayReport],
    policy: PolicySection,
    *,
    prediction_drift: Optional[DriftReport] = None,
    estimated: Optional[EstimatedDecayReport] = None,
) -> MonitoringDecision:
    """The strongest action any rule calls for under `policy` (the validated config section); `reasons` lists
    every rule that fired. Without labels (`decay` None), the `estimated` decay stands in for it; with labels,
    realized decay decides and the estimate is only shown next to it."""
    level = 0
    reasons: List[str] = []

    def escalate(action: str, reason: str) -> None:
        nonlocal level
        level = max(level, ACTIONS.index(action))
        reasons.append(f"{action}: {reason}")

    if drift is not None:
        share = drift.drift_share
        drifted = ", ".join(drift.drifted_columns)
        if share >= policy.retrain_drift_share:
            escalate("retrain", f"{share:.0%} of features drifted (>= {policy.retrain_drift_share:.0%}): {drifted}")
        elif share >= policy.alert_drift_share:
            escalate("alert", f"{share:.0%} of features drifted (>= {policy.alert_drift_share:.0%}): {drifted}")
        unseen = {c.column: c.unseen_categories for c in drift.columns if c.unseen_categories}
        if unseen and policy.alert_on_unseen_categories:
            escalate("alert", "categories never seen in training: "
                     + "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(unseen.items())))
    if prediction_drift is not None and prediction_drift.detected and policy.alert_on_prediction_drift:
        escalate("alert", f"prediction distribution drifted: {', '.join(prediction_drift.drifted_columns)}")
    if decay is not None and decay.decayed:
        escalate("retrain" if policy.retrain_on_decay else "alert", "model decayed: " + "; ".join(decay.reasons))
    if decay is None and estimated is not None and estimated.decayed:
        action = ("retrain" if policy.retrain_on_estimated_decay
                  else "alert" if policy.alert_on_estimated_decay else None)
        if action:
            escalate(action, "estimated decay (no labels yet; an estimate): " + "; ".join(estimated.reasons))
    return MonitoringDecision(
        action=ACTIONS[level],
        reasons=reasons,
        drift_share=None if drift is None else drift.drift_share,
        decayed=None if decay is None else decay.decayed,
        estimated_decay=None if estimated is None else estimated.decayed,
        performance=None if estimated is None else estimated.to_dict(),
        policy=policy.model_dump(),
    )
