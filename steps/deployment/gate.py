"""The champion/challenger gate: absolute thresholds first, then a margin over the serving champion."""

from __future__ import annotations

import dataclasses
import html
from typing import Any, Dict, List, Optional

from materializers.report_base import Report, html_page


@dataclasses.dataclass
class Comparison:
    """Both models scored on the same rows, none of which either model trained on."""

    name: str
    rows: int
    excluded: int  # held-out rows left out because the other model trained on them
    challenger: Dict[str, float]
    champion: Optional[Dict[str, float]] = None
    # primary metric per categorical slice (feature, value, rows, score), each model on the same rows
    challenger_slices: List[Dict[str, Any]] = dataclasses.field(default_factory=list)
    champion_slices: Optional[List[Dict[str, Any]]] = None

    def describe(self) -> str:
        left_out = f", {self.excluded} left out because the other model trained on them" if self.excluded else ""
        return f"{self.name}: {self.rows} rows neither model trained on{left_out}"


@dataclasses.dataclass
class DeploymentDecision(Report):
    """Whether the challenger should serve, and every reason for the answer."""

    title = "Deployment decision"
    deploy: bool
    challenger_version: str
    champion_version: Optional[str]
    primary_metric: str
    challenger_metrics: Dict[str, float]  # on the first comparison (the challenger's holdout / recent window)
    champion_metrics: Dict[str, float]
    min_metrics: Dict[str, float]
    min_improvement: float
    reasons: List[str]
    comparisons: List[Comparison] = dataclasses.field(default_factory=list)
    max_previous_loss: float = 0.0
    max_slice_loss: Optional[float] = None
    failures: List[str] = dataclasses.field(default_factory=list)  # the reasons that block the deployment
    behaviour: List[Dict[str, Any]] = dataclasses.field(default_factory=list)  # the challenger's behaviour checks
    block_on_behaviour: bool = False

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "DeploymentDecision":
        data = dict(data)
        data["comparisons"] = [c if isinstance(c, Comparison) else Comparison(**c)
                               for c in data.get("comparisons", [])]
        return cls(**data)

    @property
    def decision(self) -> str:
        return "deploy" if self.deploy else "keep champion"

    def to_html(self) -> str:
        verdict = "pass" if self.deploy else "fail"
        reasons = "".join(f"<li>{html.escape(r)}</li>" for r in self.reasons)
        champion = f"v{self.champion_version}" if self.champion_version else "none (first deployment)"
        comparisons = self.comparisons or [Comparison("same holdout", 0, 0, self.challenger_metrics,
                                                      self.champion_metrics)]
        tables = "".join(_comparison_table(c, self.primary_metric) for c in comparisons)
        body = (
            f"<p class='{verdict}'>{self.decision.upper()}: challenger v{self.challenger_version} vs champion "
            f"{champion}</p><ul>{reasons}</ul>{tables}"
        )
        return html_page(self.title, body)


def _comparison_table(comparison: Comparison, primary_metric: str) -> str:
    champion = comparison.champion or {}
    metrics = sorted(set(comparison.challenger) | set(champion))

    def cell(values: Dict[str, float], metric: str) -> str:
        return f"{values[metric]:.4f}" if metric in values else "-"

    rows = "".join(
        f"<tr><th>{m}{' (primary)' if m == primary_metric else ''}</th>"
        f"<td>{cell(comparison.challenger, m)}</td><td>{cell(champion, m)}</td></tr>"
        for m in metrics
    )
    caption = html.escape(comparison.describe()) if comparison.rows else html.escape(comparison.name)
    return (f"<table><caption>{caption}</caption><tr><th>metric ({html.escape(comparison.name)})</th>"
            f"<th>challenger</th><th>champion</th></tr>{rows}</table>")


def _thresholds(metrics: Dict[str, float], min_metrics: Dict[str, float], where: str) -> tuple[List[str], List[str]]:
    """(every threshold's verdict, the failed ones)."""
    reasons, failures = [], []
    for metric, threshold in sorted(min_metrics.items()):
        value = metrics.get(metric)
        if value is None:
            failures.append(f"{metric}: threshold {threshold} set but the challenger has no such metric "
                            f"(has {', '.join(sorted(metrics))})")
            reasons.append(failures[-1])
        elif value < threshold:
            failures.append(f"{metric} = {value:.4f} is below the required {threshold}{where}")
            reasons.append(failures[-1])
        else:
            reasons.append(f"{metric} = {value:.4f} meets the required {threshold}{where}")
    return reasons, failures


def _previous_holdout(previous: Comparison, primary_metric: str, tolerance: float, min_rows: int) -> tuple[bool, str]:
    if previous.rows < min_rows or not previous.champion:
        return True, (f"{previous.name}: only {previous.rows} rows the challenger did not train on (minimum "
                      f"{min_rows}); not compared")
    new, old = previous.challenger[primary_metric], previous.champion[primary_metric]
    if old - new > tolerance:
        return False, (f"{previous.name}: challenger {new:.4f} loses {old - new:.4f} to champion {old:.4f}, more than "
                       f"the tolerance {tolerance} ({previous.rows} rows)")
    return True, (f"{previous.name}: challenger {new:.4f} vs champion {old:.4f} ({new - old:+.4f}) is within the "
                  f"tolerance {tolerance} ({previous.rows} rows)")


def _slices(recent: Comparison, primary_metric: str, margin: float, min_rows: int) -> tuple[List[str], List[str]]:
    """(reasons, failures): no slice with `min_rows` rows may lose more than `margin` to the champion's same slice."""
    champion = {(s["feature"], s["value"]): s for s in recent.champion_slices or []}
    pairs = [(s, champion[(s["feature"], s["value"])]) for s in recent.challenger_slices
             if s["rows"] >= min_rows and s["score"] is not None
             and champion.get((s["feature"], s["value"]), {}).get("score") is not None]
    if not pairs:
        return [f"slices: none with {min_rows}+ rows scored for both models on the {recent.name}; not compared"], []
    failures = [
        f"slice {new['feature']}={new['value']} ({new['rows']} rows): challenger {new['score']:.4f} loses "
        f"{old['score'] - new['score']:.4f} to champion {old['score']:.4f} on {primary_metric}, more than the slice "
        f"margin {margin}" for new, old in pairs if old["score"] - new["score"] > margin]
    if failures:
        return failures, failures
    new, old = min(pairs, key=lambda p: (p[0]["score"] - p[1]["score"], p[0]["feature"], p[0]["value"]))
    return [f"slices: none of {len(pairs)} with {min_rows}+ rows loses more than {margin} on {primary_metric} "
            f"(closest: {new['feature']}={new['value']}, {new['score'] - old['score']:+.4f})"], []


def _behaviour(results: List[Dict[str, Any]], block: bool) -> tuple[List[str], List[str]]:
    """(reasons, failures) from the challenger's behaviour checks (run at training); failures only when `block`."""
    if not results:
        return ["behaviour checks: none declared in the challenger's training config"], []
    broken = [r for r in results if not r["passed"]]
    if not broken:
        return [f"behaviour checks: all {len(results)} passed ({', '.join(r['name'] for r in results)})"], []
    lines = [f"behaviour check '{r['name']}' ({r['kind']}) failed: {r['detail']}" for r in broken]
    if block:
        return lines, lines
    return [f"{line} (not blocking: gate.block_on_behaviour is false)" for line in lines], []


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
    *,
    recent: Optional[Comparison] = None,
    previous: Optional[Comparison] = None,
    max_previous_loss: float = 0.0,
    min_rows: int = 1,
    max_slice_loss: Optional[float] = None,
    min_slice_rows: int = 1,
    behaviour: Optional[List[Dict[str, Any]]] = None,
    block_on_behaviour: bool = False,
) -> DeploymentDecision:
    """All metrics are higher-is-better. The first deployment needs the thresholds only.

    `challenger_metrics`/`champion_metrics` are scored on `recent` (the challenger's holdout minus the champion's
    training rows: for a retrain, the most recent labelled window); the challenger must meet the thresholds there
    and beat the champion by `min_improvement`. On `previous` (the champion's holdout minus the challenger's
    training rows) it may not lose more than `max_previous_loss`. `force` waives both comparisons with the champion
    (never the thresholds). With `max_slice_loss` set, no categorical slice of `recent` with `min_slice_rows` rows
    may lose more than that to the champion's same slice (the failure names the slice). `behaviour` (the
    challenger's behaviour-check results) blocks on any failed check with `block_on_behaviour`, naming it; `force`
    never waives it. When the candidate is the champion, it is served again if its endpoint does not serve it
    (`serving_version`: stopped, crashed, rebooted).
    """
    where = f" on the {recent.name}" if recent else ""
    reasons, failures = _thresholds(challenger_metrics, min_metrics, where)
    behaviour_reasons, behaviour_failures = _behaviour(list(behaviour or []), block_on_behaviour)
    reasons += [r for r in behaviour_reasons if r not in behaviour_failures]
    failures += behaviour_failures
    if recent is not None:
        reasons.append(recent.describe())
        if recent.rows < min_rows:
            failures.append(f"{recent.name}: {recent.rows} rows neither model trained on, fewer than the "
                            f"{min_rows} needed for a fair comparison; hold out more recent rows")
    if champion_version is not None and champion_version == challenger_version:
        if serving_version == challenger_version:
            failures.append(f"v{challenger_version} is already the champion and serving: nothing to deploy")
        else:
            reasons.append(f"v{challenger_version} is the champion but its endpoint serves "
                           f"{'v' + serving_version if serving_version else 'nothing'}: serving it again")
    elif champion_metrics and force:
        new, old = challenger_metrics[primary_metric], champion_metrics[primary_metric]
        reasons.append(f"{primary_metric}: challenger {new:.4f} vs champion {old:.4f}{where} ({new - old:+.4f}); "
                       "the comparison with the champion is waived by --force")
    elif champion_metrics:
        new, old = challenger_metrics[primary_metric], champion_metrics[primary_metric]
        if new >= old + min_improvement:
            reasons.append(f"{primary_metric}: challenger {new:.4f} beats champion {old:.4f} by "
                           f"{new - old:+.4f}{where} (margin {min_improvement})")
        else:
            failures.append(f"{primary_metric}: challenger {new:.4f} does not beat champion {old:.4f} by the "
                            f"margin {min_improvement}{where} (difference {new - old:+.4f})")
        if previous is not None:
            passed, reason = _previous_holdout(previous, primary_metric, max_previous_loss, min_rows)
            (reasons if passed else failures).append(reason)
        if max_slice_loss is not None and recent is not None:
            slice_reasons, slice_failures = _slices(recent, primary_metric, max_slice_loss, min_slice_rows)
            reasons += [r for r in slice_reasons if r not in slice_failures]
            failures += slice_failures
    elif champion_version is not None:
        reasons.append(f"champion v{champion_version} not compared (--force; it needs columns the comparison rows "
                       "lack): the thresholds decide")
    else:
        reasons.append("no champion yet: the thresholds decide")
    reasons += [f for f in failures if f not in reasons]
    ok = not failures
    return DeploymentDecision(
        deploy=ok, challenger_version=challenger_version, champion_version=champion_version,
        primary_metric=primary_metric, challenger_metrics=challenger_metrics,
        champion_metrics=champion_metrics or {}, min_metrics=min_metrics, min_improvement=min_improvement,
        reasons=reasons, comparisons=[c for c in (recent, previous) if c is not None],
        max_previous_loss=max_previous_loss, max_slice_loss=max_slice_loss, failures=failures,
        behaviour=list(behaviour or []), block_on_behaviour=block_on_behaviour,
    )
