"""The champion/challenger gate: absolute thresholds first, then a margin over the serving champion."""

from __future__ import annotations

import dataclasses
import html
from typing import Dict, List, Optional

from materializers.report_base import Report, html_page


@dataclasses.dataclass
class DeploymentDecision(Report):
    """Whether the challenger should serve, and every reason for the answer."""

    title = "Deployment decision"
    deploy: bool
    challenger_version: str
    champion_version: Optional[str]
    primary_metric: str
    challenger_metrics: Dict[str, float]
    champion_metrics: Dict[str, float]
    min_metrics: Dict[str, float]
    min_improvement: float
    reasons: List[str]

    @property
    def decision(self) -> str:
        return "deploy" if self.deploy else "keep champion"

    def to_html(self) -> str:
        verdict = "pass" if self.deploy else "fail"
        metrics = sorted(set(self.challenger_metrics) | set(self.champion_metrics))
        def cell(values: Dict[str, float], metric: str) -> str:
            return f"{values[metric]:.4f}" if metric in values else "-"

        rows = "".join(
            f"<tr><th>{m}{' (primary)' if m == self.primary_metric else ''}</th>"
            f"<td>{cell(self.challenger_metrics, m)}</td><td>{cell(self.champion_metrics, m)}</td></tr>"
            for m in metrics
        )
        reasons = "".join(f"<li>{html.escape(r)}</li>" for r in self.reasons)
        champion = f"v{self.champion_version}" if self.champion_version else "none (first deployment)"
        body = (
            f"<p class='{verdict}'>{self.decision.upper()}: challenger v{self.challenger_version} vs champion "
            f"{champion}</p><ul>{reasons}</ul>"
            f"<table><tr><th>metric (same holdout)</th><th>challenger</th><th>champion</th></tr>{rows}</table>"
        )
        return html_page(self.title, body)


def decide(
    challenger_version: str,
    challenger_metrics: Dict[str, float],
    primary_metric: str,
    min_metrics: Dict[str, float],
    min_improvement: float,
    champion_version: Optional[str] = None,
    champion_metrics: Optional[Dict[str, float]] = None,
    serving_version: Optional[str] = None,
    force: bool = False,
) -> DeploymentDecision:
    """All metrics are higher-is-better. The first deployment needs the thresholds only. The champion is served
    again when its endpoint is not serving it (stopped, crashed, rebooted); `force` waives the champion margin."""
    reasons: List[str] = []
    ok = True
    for metric, threshold in sorted(min_metrics.items()):
        value = challenger_metrics.get(metric)
        if value is None:
            ok = False
            reasons.append(f"{metric}: threshold {threshold} set but the challenger has no such metric "
                           f"(has {', '.join(sorted(challenger_metrics))})")
        elif value < threshold:
            ok = False
            reasons.append(f"{metric} = {value:.4f} is below the required {threshold}")
        else:
            reasons.append(f"{metric} = {value:.4f} meets the required {threshold}")
    if champion_version is not None and champion_version == challenger_version:
        if serving_version == challenger_version:
            ok = False
            reasons.append(f"v{challenger_version} is already the champion and serving: nothing to deploy")
        else:
            reasons.append(f"v{challenger_version} is the champion but its endpoint serves "
                           f"{'v' + serving_version if serving_version else 'nothing'}: serving it again")
    elif champion_metrics and force:
        new, old = challenger_metrics[primary_metric], champion_metrics[primary_metric]
        reasons.append(f"{primary_metric}: challenger {new:.4f} vs champion {old:.4f} ({new - old:+.4f}); "
                       f"champion margin waived by --force")
    elif champion_metrics:
        new, old = challenger_metrics[primary_metric], champion_metrics[primary_metric]
        if new >= old + min_improvement:
            reasons.append(f"{primary_metric}: challenger {new:.4f} beats champion {old:.4f} by "
                           f"{new - old:+.4f} (margin {min_improvement})")
        else:
            ok = False
            reasons.append(f"{primary_metric}: challenger {new:.4f} does not beat champion {old:.4f} by the "
                           f"margin {min_improvement} (difference {new - old:+.4f})")
    else:
        reasons.append("no champion yet: the thresholds decide")
    return DeploymentDecision(
        deploy=ok, challenger_version=challenger_version, champion_version=champion_version,
        primary_metric=primary_metric, challenger_metrics=challenger_metrics,
        champion_metrics=champion_metrics or {}, min_metrics=min_metrics, min_improvement=min_improvement,
        reasons=reasons,
    )
