"""Guardrails of an A/B test: abort when the challenger errors or slows down more than the champion by a margin.

Error rate, two rules (either breaches):
- margin rule: once the challenger served `min_requests`, its error rate may exceed the champion's by at most
  `max_error_rate_increase` (absolute);
- early rule, for a challenger that fails from its first requests (5 errors out of 5 should not wait for 200
  requests): a one-sided exact binomial test of "the challenger's error rate is at most the champion's rate +
  the margin"; it breaches when its p-value falls below EARLY_ABORT_P_VALUE. The champion's rate is taken at the
  upper end of its one-sided 95 % Clopper-Pearson interval (a champion with 0 errors in 50 requests may well fail
  5 % of the time: an equally good challenger must not be aborted for its first unlucky errors). The level is far
  stricter than a usual 0.05 because `status` checks again and again (each look is another chance of a false
  alarm); a champion with 0 errors in 1000 requests and the default margin still lets it abort a challenger after
  errors on its first 2 requests.
p99 latency: judged only when both variants served `min_requests` (a p99 of fewer requests is mostly noise); the
challenger's may be at most `max_p99_latency_ratio` times the champion's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from scipy import stats

EARLY_ABORT_P_VALUE = 1e-3


@dataclass(frozen=True)
class VariantHealth:
    """Requests one variant answered, how many failed (HTTP 5xx or an error body), and its p99 latency."""

    name: str
    requests: int
    errors: int
    p99_ms: Optional[float]

    @property
    def error_rate(self) -> Optional[float]:
        return self.errors / self.requests if self.requests else None


@dataclass(frozen=True)
class GuardrailCheck:
    """Whether the test must be aborted; each reason names the variant, the figure and the limit."""

    breached: bool
    reasons: List[str]


def _check(health: VariantHealth, role: str) -> None:
    if health.requests < 0 or not 0 <= health.errors <= health.requests:
        raise ValueError(f"{role} ({health.name}): expected 0 <= errors <= requests, got {health.errors} errors "
                         f"in {health.requests} requests")
    if health.p99_ms is not None and health.p99_ms < 0:
        raise ValueError(f"{role} ({health.name}).p99_ms: expected a latency >= 0, got {health.p99_ms}")


def _upper_bound(health: VariantHealth, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound of a variant's error rate (1 when it served nothing)."""
    if health.requests == 0 or health.errors == health.requests:
        return 1.0
    return float(stats.beta.ppf(confidence, health.errors + 1, health.requests - health.errors))


def check_guardrails(champion: VariantHealth, challenger: VariantHealth, max_error_rate_increase: float,
                     max_p99_latency_ratio: float, min_requests: int) -> GuardrailCheck:
    """Whether the challenger breaches a guardrail (module docstring: the rules and why)."""
    _check(champion, "champion")
    _check(challenger, "challenger")
    if not 0 <= max_error_rate_increase < 1:
        raise ValueError(f"max_error_rate_increase: expected a rate in [0, 1), got {max_error_rate_increase!r}")
    if not max_p99_latency_ratio >= 1:
        raise ValueError(f"max_p99_latency_ratio: expected a ratio >= 1, got {max_p99_latency_ratio!r}")
    if min_requests < 1:
        raise ValueError(f"min_requests: expected at least 1, got {min_requests!r}")
    reasons: List[str] = []
    champion_rate = champion.error_rate or 0.0
    limit = champion_rate + max_error_rate_increase
    early_limit = _upper_bound(champion) + max_error_rate_increase
    rate = challenger.error_rate
    if rate is not None:
        where = (f"challenger {challenger.name}: error rate {rate:.2%} ({challenger.errors}/{challenger.requests}) "
                 f"vs champion {champion.name} {champion_rate:.2%} ({champion.errors}/{champion.requests})")
        if challenger.requests >= min_requests and rate > limit:
            reasons.append(f"{where} exceeds the champion's by more than {max_error_rate_increase:.2%} (limit "
                           f"{limit:.2%})")
        elif early_limit < 1 and challenger.errors:
            # P(at least this many errors | the challenger's true rate is exactly the early limit)
            p_value = float(stats.binom.sf(challenger.errors - 1, challenger.requests, early_limit))
            if p_value < EARLY_ABORT_P_VALUE:
                reasons.append(f"{where}: after only {challenger.requests} requests that many errors are too many "
                               f"for a rate within {early_limit:.2%} (the champion's rate at most, plus "
                               f"{max_error_rate_increase:.2%}; one-sided binomial p = {p_value:.1e} < "
                               f"{EARLY_ABORT_P_VALUE:g})")
    if (min(champion.requests, challenger.requests) >= min_requests and champion.p99_ms is not None
            and challenger.p99_ms is not None and challenger.p99_ms > max_p99_latency_ratio * champion.p99_ms):
        reasons.append(f"challenger {challenger.name}: p99 latency {challenger.p99_ms:.1f} ms exceeds "
                       f"{max_p99_latency_ratio:g} x champion {champion.name}'s {champion.p99_ms:.1f} ms (limit "
                       f"{max_p99_latency_ratio * champion.p99_ms:.1f} ms)")
    return GuardrailCheck(breached=bool(reasons), reasons=reasons)
