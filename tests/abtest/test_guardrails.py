"""Guardrails abort a challenger that errors or slows down; a healthy one runs on."""

import pytest

from steps.abtest.guardrails import VariantHealth, check_guardrails

LIMITS = {"max_error_rate_increase": 0.01, "max_p99_latency_ratio": 1.5, "min_requests": 200}
CHAMPION = VariantHealth("v3", requests=2000, errors=4, p99_ms=40.0)


def test_erroring_challenger_is_breached_with_a_reason_naming_variant_figure_and_limit():
    check = check_guardrails(CHAMPION, VariantHealth("v4", 250, 10, 41.0), **LIMITS)
    assert check.breached
    [reason] = check.reasons
    assert reason.startswith("challenger v4: error rate 4.00% (10/250) vs champion v3 0.20% (4/2000)")
    assert "limit 1.20%" in reason


def test_healthy_challenger_is_not_breached():
    check = check_guardrails(CHAMPION, VariantHealth("v4", 250, 1, 45.0), **LIMITS)
    assert not check.breached and check.reasons == []
    # a margin-sized increase is still within the limit
    assert not check_guardrails(CHAMPION, VariantHealth("v4", 1000, 12, 45.0), **LIMITS).breached


def test_all_errors_on_a_few_requests_breach_without_waiting_for_min_requests():
    check = check_guardrails(CHAMPION, VariantHealth("v4", 5, 5, None), **LIMITS)
    assert check.breached
    assert "after only 5 requests" in check.reasons[0] and "one-sided binomial p" in check.reasons[0]
    # one unlucky error in the first few requests is not enough
    assert not check_guardrails(CHAMPION, VariantHealth("v4", 5, 1, None), **LIMITS).breached


def test_the_early_rule_allows_for_a_champion_measured_on_few_requests():
    # 0 errors in 30 requests does not prove the champion never fails: 2 errors in 20 are no reason to abort yet
    assert not check_guardrails(VariantHealth("v3", 30, 0, None), VariantHealth("v4", 20, 2, None), **LIMITS).breached
    # ... but 20 in 20 are
    assert check_guardrails(VariantHealth("v3", 30, 0, None), VariantHealth("v4", 20, 20, None), **LIMITS).breached


def test_p99_is_judged_only_with_min_requests_on_both_variants():
    slow = VariantHealth("v4", 300, 0, 70.0)
    check = check_guardrails(CHAMPION, slow, **LIMITS)
    assert check.breached
    assert check.reasons == ["challenger v4: p99 latency 70.0 ms exceeds 1.5 x champion v3's 40.0 ms (limit 60.0 ms)"]
    assert not check_guardrails(CHAMPION, VariantHealth("v4", 150, 0, 70.0), **LIMITS).breached
    assert not check_guardrails(VariantHealth("v3", 150, 0, 40.0), slow, **LIMITS).breached
    assert not check_guardrails(CHAMPION, VariantHealth("v4", 300, 0, None), **LIMITS).breached


def test_both_guardrails_breached_give_both_reasons():
    check = check_guardrails(CHAMPION, VariantHealth("v4", 300, 30, 90.0), **LIMITS)
    assert len(check.reasons) == 2 and "error rate" in check.reasons[0] and "p99" in check.reasons[1]


@pytest.mark.parametrize("champion, challenger, limits, message", [
    (CHAMPION, VariantHealth("v4", 5, 6, None), {}, r"challenger \(v4\): expected 0 <= errors <= requests, got 6"),
    (VariantHealth("v3", -1, 0, None), VariantHealth("v4", 5, 0, None), {}, r"champion \(v3\): expected 0 <= errors"),
    (CHAMPION, VariantHealth("v4", 5, 0, -1.0), {}, r"challenger \(v4\).p99_ms: expected a latency >= 0"),
    (CHAMPION, VariantHealth("v4", 5, 0, None), {"max_p99_latency_ratio": 0.5}, "max_p99_latency_ratio: expected"),
    (CHAMPION, VariantHealth("v4", 5, 0, None), {"min_requests": 0}, "min_requests: expected at least 1, got 0"),
    (CHAMPION, VariantHealth("v4", 5, 0, None), {"max_error_rate_increase": 1.5}, "max_error_rate_increase: "),
])
def test_bad_inputs_are_named(champion, challenger, limits, message):
    with pytest.raises(ValueError, match=message):
        check_guardrails(champion, challenger, **{**LIMITS, **limits})
