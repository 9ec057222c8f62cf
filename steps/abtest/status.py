"""Where an A/B test stands: per-variant health, realized and estimated metric, the verdict and the guardrails.

Pure assembly of what the endpoint recorded (steps/abtest/variants.py), what the ingress measured (requests, 5xx
errors, p99 per variant) and the fixed plan, through the statistics of steps/abtest/statistics.py and
guardrails.py. The `abtest status` command feeds it and prints `lines()`; tests call it directly.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Mapping, Optional, Sequence

from core.config import GuardrailsSection
from steps.abtest.guardrails import GuardrailCheck, VariantHealth, check_guardrails
from steps.abtest.report import abtest_summary
from steps.abtest.statistics import TestPlan, Verdict, compare_variants
from steps.abtest.variants import ROLES, VariantRecords


@dataclasses.dataclass
class ABTestStatus:
    plan: TestPlan
    verdict: Verdict
    health: List[VariantHealth]
    guardrails: GuardrailCheck
    variants: Dict[str, Dict[str, Any]]  # role -> version, run id, served, labelled, predictions, realized, estimated

    def summary(self) -> Dict[str, Any]:
        """JSON-able: abtest_summary plus the variants (what `status --json` prints and MLflow records)."""
        return {**abtest_summary(self.plan, self.verdict, self.health, self.guardrails), "variants": self.variants}

    def lines(self) -> List[str]:
        """What `abtest status` prints."""
        v = self.verdict
        out = [f"{'variant':<11} {'version':>7} {'requests':>9} {'errors':>7} {'p99 ms':>8} {'labelled':>9} "
               f"{v.metric + ' (realized)':>20} {'estimated':>10}"]
        for h in self.health:
            info = self.variants.get(h.name, {})
            realized = info.get("realized")
            estimated = (info.get("estimated") or {}).get("estimate")
            out.append(f"{h.name:<11} {info.get('version', ''):>7} {h.requests:>9} {h.errors:>7} "
                       f"{_num(h.p99_ms, '{:.1f}'):>8} {info.get('labelled', 0):>9} {_num(realized):>20} "
                       f"{_num(estimated):>10}")
        for role in ROLES:
            dist = (self.variants.get(role) or {}).get("predictions")
            if dist:
                out.append(f"predictions {role}: " + ", ".join(f"{k} {_num(x, '{:.3g}')}" for k, x in dist.items()))
        out.append(f"plan: {self.plan.required_per_variant} labelled requests per variant "
                   f"({self.plan.method}, MDE {self.plan.min_detectable_effect:g}, alpha {self.plan.alpha:g}, "
                   f"power {self.plan.power:g})")
        if v.difference is not None:
            out.append(f"{v.metric}: challenger - champion {v.difference:+.4f}, {v.confidence:.0%} interval "
                       f"[{v.ci_low:+.4f}, {v.ci_high:+.4f}], p = {_num(v.p_value, '{:.3g}')}")
        out.append(f"verdict: {v.verdict.upper()} ({v.note})")
        if self.guardrails.breached:
            out.append("guardrail breached: " + "; ".join(self.guardrails.reasons))
        else:
            out.append("guardrails: ok")
        return out


def _num(value: Optional[float], pattern: str = "{:.4f}") -> str:
    return "-" if value is None else pattern.format(value)


def variant_health(traffic: Mapping[str, Mapping[str, Any]], shadow: bool) -> List[VariantHealth]:
    """Champion and challenger health from the ingress figures (a shadow challenger is the `shadow` variant)."""
    out = []
    for role, source in (("champion", "champion"), ("challenger", "shadow" if shadow else "challenger")):
        seen = traffic.get(source) or {}
        out.append(VariantHealth(role, int(seen.get("requests", 0)), int(seen.get("errors", 0)), seen.get("p99_ms")))
    return out


def evaluate_test(plan: TestPlan, traffic: Mapping[str, Mapping[str, Any]], records: Mapping[str, VariantRecords],
                  classes: Sequence[Any], positive: Optional[Any], guardrails: GuardrailsSection, shadow: bool,
                  identities: Mapping[str, Mapping[str, Any]], estimators: Optional[Mapping[str, Any]] = None
                  ) -> ABTestStatus:
    """The test's status. `estimators`: role -> function(unlabelled positive-class scores) -> {'estimate', 'lower',
    'upper'} of the plan's metric (CBPE, binary classifiers), used where labels are missing."""
    outcomes = {role: records[role].outcomes(classes, positive) for role in ROLES}
    verdict = compare_variants(plan, outcomes["champion"], outcomes["challenger"])
    health = variant_health(traffic, shadow)
    check = check_guardrails(health[0], health[1], guardrails.max_error_rate_increase,
                             guardrails.max_p99_latency_ratio, guardrails.min_requests)
    variants: Dict[str, Dict[str, Any]] = {}
    for role in ROLES:
        rec = records[role]
        info: Dict[str, Any] = {**identities.get(role, {}), "version": rec.version, "served": len(rec.records),
                                "labelled": rec.labelled, "predictions": rec.distribution(),
                                "realized": getattr(verdict, f"{role}_value")}
        if estimators and role in estimators and positive is not None:
            scores = rec.unlabelled_scores(classes, positive)
            if len(scores) >= 2:
                info["estimated"] = {"rows": int(len(scores)), **estimators[role](scores)}
        variants[role] = info
    return ABTestStatus(plan, verdict, health, check, variants)
