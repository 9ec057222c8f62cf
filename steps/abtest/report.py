"""The result of an A/B test as a summary (JSON: MLflow, `abtest status --json`) and a self-contained HTML page.

`variants` maps each role, "champion" and "challenger", to what identifies its model and what it predicted:
`{"model": registered model name, "version": "3", "run_id": "...", "url": optional link to the model version
(MLflow UI), "predictions": optional {class or bin label: count}}`. `health` lists the champion first, then the
challenger (the order `check_guardrails` takes them in).
"""

from __future__ import annotations

import dataclasses
import html
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence

from materializers.report_base import Report, html_page
from steps.evaluation.metrics import LOWER_IS_BETTER
from steps.abtest.guardrails import GuardrailCheck, VariantHealth
from steps.abtest.statistics import TestPlan, Verdict

ROLES = ("champion", "challenger")
VERDICT_CLASS = {"challenger better": "pass", "challenger worse": "fail", "no difference": "even",
                 "not enough data": "wait"}
_STYLE = (".verdict{font-size:2.2em;font-weight:700;margin:.2em 0}.even{color:#555;font-weight:600}"
          ".wait{color:#8a6d00;font-weight:600}.bar{display:inline-block;height:.8em;background:#4c72b0}"
          ".note{color:#444;max-width:60em}")


def _number(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN/inf to None."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _health_dict(health: VariantHealth) -> Dict[str, Any]:
    return {**{k: _number(v) for k, v in dataclasses.asdict(health).items()}, "error_rate": health.error_rate}


def abtest_summary(plan: TestPlan, verdict: Verdict, health: Sequence[VariantHealth],
                   guardrails: GuardrailCheck) -> Dict[str, Any]:
    """Everything the test says, JSON-serializable (plain str/int/float/bool/None, lists and dicts)."""
    return {
        "plan": {k: _number(v) for k, v in dataclasses.asdict(plan).items()},
        "verdict": {k: _number(v) for k, v in dataclasses.asdict(verdict).items()},
        "health": [_health_dict(h) for h in health],
        "guardrails": {"breached": bool(guardrails.breached), "reasons": list(guardrails.reasons)},
    }


def abtest_metrics(verdict: Verdict, health: Sequence[VariantHealth]) -> Dict[str, float]:
    """The test's figures as flat numbers (MLflow `log_metrics`, Prometheus): undefined ones are left out."""
    figures: Dict[str, Any] = {
        "abtest_champion_value": verdict.champion_value, "abtest_challenger_value": verdict.challenger_value,
        "abtest_difference": verdict.difference, "abtest_ci_low": verdict.ci_low, "abtest_ci_high": verdict.ci_high,
        "abtest_p_value": verdict.p_value, "abtest_labelled_champion": verdict.n_champion,
        "abtest_labelled_challenger": verdict.n_challenger, "abtest_required_per_variant": verdict.required_per_variant,
    }
    for role, state in zip(ROLES, health):
        figures.update({f"abtest_{role}_requests": state.requests, f"abtest_{role}_errors": state.errors,
                        f"abtest_{role}_error_rate": state.error_rate, f"abtest_{role}_p99_ms": state.p99_ms})
    return {k: float(v) for k, v in figures.items() if _number(v) is not None}


def _fmt(value: Optional[float], pattern: str = "{:.4f}") -> str:
    return "–" if value is None else pattern.format(value)


def _interval_svg(verdict: Verdict, min_detectable_effect: float) -> str:
    """The difference and its interval on an axis through 0, with the planned effect marked on both sides."""
    if verdict.difference is None:
        return "<p>No difference to draw yet: a variant has no labelled rows.</p>"
    low = verdict.ci_low if verdict.ci_low is not None else verdict.difference
    high = verdict.ci_high if verdict.ci_high is not None else verdict.difference
    span = max(abs(low), abs(high), min_detectable_effect) * 1.25 or 1.0
    width, left, right = 640, 40, 600

    def x(value: float) -> float:
        return left + (value + span) / (2 * span) * (right - left)

    color = {"pass": "#1b7f3b", "fail": "#b00020"}.get(VERDICT_CLASS[verdict.verdict], "#555")
    marks = "".join(
        f"<line x1='{x(v):.1f}' y1='15' x2='{x(v):.1f}' y2='75' stroke='#999' stroke-dasharray='4 3'/>"
        f"<text x='{x(v):.1f}' y='92' font-size='11' text-anchor='middle' fill='#666'>{label}</text>"
        for v, label in ((-min_detectable_effect, f"−MDE {min_detectable_effect:g}"),
                         (min_detectable_effect, f"+MDE {min_detectable_effect:g}")))
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='100' role='img' "
        f"aria-label='difference {verdict.difference:+.4f}, interval {low:+.4f} to {high:+.4f}'>"
        f"<line x1='{left}' y1='45' x2='{right}' y2='45' stroke='#ccc'/>"
        f"<line x1='{x(0):.1f}' y1='10' x2='{x(0):.1f}' y2='80' stroke='#222' stroke-width='1.5'/>"
        f"<text x='{x(0):.1f}' y='8' font-size='11' text-anchor='middle'>0</text>{marks}"
        f"<line x1='{x(low):.1f}' y1='45' x2='{x(high):.1f}' y2='45' stroke='{color}' stroke-width='6'/>"
        f"<circle cx='{x(verdict.difference):.1f}' cy='45' r='6' fill='{color}'/>"
        f"<text x='{x(low):.1f}' y='32' font-size='11' text-anchor='end'>{low:+.4f}</text>"
        f"<text x='{x(high):.1f}' y='32' font-size='11' text-anchor='start'>{high:+.4f}</text>"
        f"<text x='{left}' y='98' font-size='11' fill='#666'>← champion better</text>"
        f"<text x='{right}' y='98' font-size='11' fill='#666' text-anchor='end'>challenger better →</text></svg>")


def _variants_table(verdict: Verdict, health: Sequence[VariantHealth], variants: Mapping[str, dict]) -> str:
    values = {"champion": (verdict.champion_value, verdict.n_champion),
              "challenger": (verdict.challenger_value, verdict.n_challenger)}
    rows = []
    for role, state in zip(ROLES, list(health) + [None] * (len(ROLES) - len(health))):
        info = variants.get(role, {})
        model = html.escape(f"{info.get('model', '?')} v{info.get('version', '?')}")
        if info.get("url"):
            model = f"<a href='{html.escape(str(info['url']), quote=True)}'>{model}</a>"
        value, labelled = values[role]
        requests = "–" if state is None else str(state.requests)
        errors = "–" if state is None else f"{state.errors} ({_fmt(state.error_rate, '{:.2%}')})"
        p99 = "–" if state is None else _fmt(state.p99_ms, "{:.1f} ms")
        rows.append(f"<tr><th>{role}</th><td>{model}</td><td><code>{html.escape(str(info.get('run_id', '–')))}"
                    f"</code></td><td>{requests}</td><td>{errors}</td><td>{p99}</td><td>{labelled}</td>"
                    f"<td>{_fmt(value)}</td></tr>")
    return (f"<table><tr><th>variant</th><th>model version</th><th>MLflow run</th><th>requests</th><th>errors</th>"
            f"<th>p99 latency</th><th>labelled</th><th>{html.escape(verdict.metric)}</th></tr>{''.join(rows)}</table>")


def _predictions_table(variants: Mapping[str, dict]) -> str:
    counts = {role: variants.get(role, {}).get("predictions") or {} for role in ROLES}
    if not any(counts.values()):
        return ""
    labels = sorted({str(label) for c in counts.values() for label in c})
    shares = {role: {str(k): v / (sum(c.values()) or 1) for k, v in c.items()} for role, c in counts.items()}

    def cell(role: str, label: str) -> str:
        share = shares[role].get(label, 0.0)
        return f"<td><span class='bar' style='width:{share * 8:.2f}em'></span> {share:.1%}</td>"

    rows = "".join(f"<tr><th>{html.escape(label)}</th>{cell('champion', label)}{cell('challenger', label)}</tr>"
                   for label in labels)
    return (f"<h3>Predictions</h3><table><tr><th>prediction</th><th>champion</th><th>challenger</th></tr>{rows}"
            "</table>")


def render_abtest_html(plan: TestPlan, verdict: Verdict, health: Sequence[VariantHealth],
                       guardrails: GuardrailCheck, variants: Mapping[str, dict]) -> str:
    """The test on one self-contained page: verdict, interval against 0, variants, guardrails and the plan."""
    css = VERDICT_CLASS[verdict.verdict]
    direction = (" (lower is better: the difference is negated so that positive = challenger better)"
                 if verdict.metric in LOWER_IS_BETTER else "")
    aborted = "<p class='verdict fail'>ABORTED: GUARDRAIL BREACHED</p>" if guardrails.breached else ""
    interim = " — interim, not a verdict" if verdict.verdict == "not enough data" else ""
    if guardrails.breached:
        reasons = "".join(f"<li>{html.escape(r)}</li>" for r in guardrails.reasons)
        guard = (f"<p class='fail'>Guardrail breached: the test is aborted, the champion keeps serving.</p>"
                 f"<ul>{reasons}</ul>")
    else:
        guard = "<p class='pass'>No guardrail breached.</p>"
    plan_rows = "".join(f"<tr><th>{k}</th><td>{html.escape(str(v))}</td></tr>" for k, v in (
        ("metric", f"{plan.metric} (champion baseline {plan.baseline:.4g})"), ("test", plan.method),
        ("required labelled requests per variant", plan.required_per_variant),
        ("minimum detectable effect", f"{plan.min_detectable_effect:g}"),
        ("significance (two-sided alpha)", f"{plan.alpha:g}"), ("power", f"{plan.power:.0%}")))
    body = (
        f"<style>{_STYLE}</style>{aborted}<p class='verdict {css}'>{html.escape(verdict.verdict.upper())}</p>"
        f"<p class='note'>{html.escape(verdict.note)}</p>"
        f"<h3>{html.escape(verdict.metric)}: challenger − champion{direction}{interim}</h3>"
        f"<p>difference {_fmt(verdict.difference, '{:+.4f}')}, {verdict.confidence:.0%} interval "
        f"[{_fmt(verdict.ci_low, '{:+.4f}')}, {_fmt(verdict.ci_high, '{:+.4f}')}], p = "
        f"{_fmt(verdict.p_value, '{:.3g}')} ({html.escape(verdict.method)})</p>"
        f"{_interval_svg(verdict, plan.min_detectable_effect)}<h3>Variants</h3>"
        f"{_variants_table(verdict, health, variants)}{_predictions_table(variants)}"
        f"<h3>Guardrails</h3>{guard}<h3>Plan</h3><table>{plan_rows}</table>")
    return html_page("A/B test", body)


@dataclasses.dataclass
class ABTestResult(Report):
    """The test's result as a ZenML artifact: `abtest_summary` plus the variants, shown by `render_abtest_html`."""

    title = "A/B test"
    decision: str  # the verdict, or "aborted" after a guardrail breach (shown as artifact metadata)
    plan: Dict[str, Any]
    verdict: Dict[str, Any]
    health: List[Dict[str, Any]]
    guardrails: Dict[str, Any]
    variants: Dict[str, Dict[str, Any]]

    @classmethod
    def build(cls, plan: TestPlan, verdict: Verdict, health: Sequence[VariantHealth], guardrails: GuardrailCheck,
              variants: Mapping[str, dict]) -> "ABTestResult":
        summary = abtest_summary(plan, verdict, health, guardrails)
        return cls(decision="aborted" if guardrails.breached else verdict.verdict,
                   variants={role: dict(info) for role, info in variants.items()}, **summary)

    def to_html(self) -> str:
        health = [VariantHealth(**{k: v for k, v in h.items() if k != "error_rate"}) for h in self.health]
        return render_abtest_html(TestPlan(**self.plan), Verdict(**self.verdict), health,
                                  GuardrailCheck(**self.guardrails), self.variants)
