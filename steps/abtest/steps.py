"""The ZenML step of A/B tests: the result as an artifact with its HTML view, and in MLflow."""

from __future__ import annotations

import logging
from typing import Any, Dict, Optional, Tuple

from typing_extensions import Annotated
from zenml import step

from core import names
from steps.abtest.report import ABTestResult

logger = logging.getLogger(__name__)


@step(enable_cache=False)
def record_abtest_result(
    model_name: str, result: Dict[str, Any], tracking_uri: Optional[str]
) -> Tuple[Annotated[ABTestResult, names.ABTEST_RESULT], Annotated[str, names.ABTEST_MLFLOW_RUN]]:
    """`result` (abtest status summary + test record) as an ABTestResult artifact, and logged to MLflow."""
    from steps.abtest.guardrails import GuardrailCheck, VariantHealth
    from steps.abtest.report import abtest_metrics
    from steps.abtest.statistics import TestPlan, Verdict
    from steps.abtest.tracking import log_result

    health = [VariantHealth(**{k: v for k, v in h.items() if k != "error_rate"}) for h in result["health"]]
    verdict = Verdict(**result["verdict"])
    report = ABTestResult.build(TestPlan(**result["plan"]), verdict, health, GuardrailCheck(**result["guardrails"]),
                                result["variants"])
    run_id = log_result(tracking_uri, model_name, result, report.to_html(), abtest_metrics(verdict, health))
    logger.info("A/B test %s: %s (MLflow run %s)", result["ending"], report.decision, run_id)
    return report, run_id
