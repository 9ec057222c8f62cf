"""The A/B test's page and summary: self-contained, showing the verdict, both versions and the interval."""

import json
import re

import numpy as np

from steps.abtest import (ABTestResult, VariantHealth, VariantOutcomes, abtest_summary, check_guardrails,
                          compare_variants, plan_test, render_abtest_html)

VARIANTS = {
    "champion": {"model": "churn-classifier", "version": "3", "run_id": "run-champion-3f2a",
                 "url": "http://127.0.0.1:5000/#/models/churn-classifier/versions/3",
                 "predictions": {"0": 700, "1": 300}},
    "challenger": {"model": "churn-classifier", "version": "4", "run_id": "run-challenger-9b1c",
                   "predictions": {"0": 60, "1": 40}},
}


def _test(n: int = 1000, challenger_errors: int = 1):
    rng = np.random.default_rng(0)
    plan = plan_test("binary", "accuracy", 0.80, 0.05)

    def variant(accuracy, name):
        y = rng.integers(0, 2, n)
        return VariantOutcomes(name, y, np.where(rng.random(n) < accuracy, y, 1 - y))

    verdict = compare_variants(plan, variant(0.80, "v3"), variant(0.88, "v4"))
    health = [VariantHealth("v3", 9000, 9, np.float64(35.5)), VariantHealth("v4", 1000, challenger_errors, 41.0)]
    guardrails = check_guardrails(*health, max_error_rate_increase=0.01, max_p99_latency_ratio=1.5, min_requests=200)
    return plan, verdict, health, guardrails


def test_page_shows_verdict_versions_interval_plan_and_guardrails():
    plan, verdict, health, guardrails = _test()
    page = render_abtest_html(plan, verdict, health, guardrails, VARIANTS)
    assert verdict.verdict == "challenger better" and "CHALLENGER BETTER" in page
    for text in ("churn-classifier v3", "churn-classifier v4", "run-champion-3f2a", "run-challenger-9b1c",
                 f"{verdict.ci_low:+.4f}", f"{verdict.ci_high:+.4f}", f"{verdict.difference:+.4f}", "<svg",
                 ">903<", "two-proportion z-test", "No guardrail breached", "9000", "35.5 ms", "70.0%", "40.0%"):
        assert text in page, text
    assert "href='http://127.0.0.1:5000/#/models/churn-classifier/versions/3'" in page
    assert "ABORTED" not in page and "interim" not in page
    # self-contained: no scripts, stylesheets or images fetched from anywhere
    assert not re.search(r"<script|<link|src=", page)


def test_page_shows_a_breach_and_an_undecided_test():
    plan, verdict, health, guardrails = _test(n=300, challenger_errors=100)
    page = render_abtest_html(plan, verdict, health, guardrails, {"champion": VARIANTS["champion"]})
    assert "NOT ENOUGH DATA" in page and "fixed horizon: 300/903" in page
    assert "Guardrail breached" in page and "challenger v4: error rate 10.00% (100/1000)" in page
    assert "ABORTED: GUARDRAIL BREACHED" in page and "interim, not a verdict" in page
    assert "? v?" in page  # a variant without identity is shown as unknown, not an error


def test_page_of_a_test_without_labels():
    plan, _, health, guardrails = _test()
    empty = VariantOutcomes("v4", np.array([], int), np.array([], int))
    verdict = compare_variants(plan, empty, empty)
    page = render_abtest_html(plan, verdict, health, guardrails, VARIANTS)
    assert "NOT ENOUGH DATA" in page and "No difference to draw yet" in page


def test_summary_is_json_serializable_and_the_artifact_round_trips():
    plan, verdict, health, guardrails = _test()
    summary = abtest_summary(plan, verdict, health, guardrails)
    decoded = json.loads(json.dumps(summary, allow_nan=False))
    assert decoded["verdict"]["verdict"] == "challenger better"
    assert decoded["plan"]["required_per_variant"] == 903
    assert decoded["health"][0] == {"name": "v3", "requests": 9000, "errors": 9, "p99_ms": 35.5, "error_rate": 0.001}
    assert decoded["guardrails"] == {"breached": False, "reasons": []}
    result = ABTestResult.build(plan, verdict, health, guardrails, VARIANTS)
    assert result.decision == "challenger better"
    again = ABTestResult.from_json(result.to_json())
    assert again == result and again.to_html() == result.to_html()
    aborted = ABTestResult.build(*_test(challenger_errors=100), VARIANTS)
    assert aborted.decision == "aborted"


def test_metrics_are_flat_numbers_without_the_undefined_ones():
    from steps.abtest import abtest_metrics

    plan, verdict, health, _ = _test()
    figures = abtest_metrics(verdict, health)
    assert all(type(v) is float for v in figures.values())
    assert figures["abtest_difference"] == verdict.difference and figures["abtest_required_per_variant"] == 903
    assert figures["abtest_challenger_error_rate"] == 0.001 and figures["abtest_champion_p99_ms"] == 35.5
    empty = VariantOutcomes("v4", np.array([], int), np.array([], int))
    undecided = abtest_metrics(compare_variants(plan, empty, empty), [VariantHealth("v3", 0, 0, None)])
    assert "abtest_difference" not in undecided and "abtest_champion_error_rate" not in undecided
    assert undecided["abtest_champion_requests"] == 0.0
