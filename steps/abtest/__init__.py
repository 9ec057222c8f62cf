"""A/B tests between the serving champion and a challenger: sample-size plan, verdict, guardrails, report.

Plain library code (no ZenML, no MLflow); the `abtest` commands and steps call it.
"""

from steps.abtest.guardrails import GuardrailCheck, VariantHealth, check_guardrails
from steps.abtest.report import ABTestResult, abtest_metrics, abtest_summary, render_abtest_html
from steps.abtest.statistics import (DEFAULT_METRIC, TestPlan, VariantOutcomes, Verdict, compare_variants,
                                     default_metric, plan_from_config, plan_test)

__all__ = ["ABTestResult", "DEFAULT_METRIC", "GuardrailCheck", "TestPlan", "VariantHealth", "VariantOutcomes",
           "Verdict", "abtest_metrics", "abtest_summary", "check_guardrails", "compare_variants", "default_metric",
           "plan_from_config", "plan_test", "render_abtest_html"]
