"""Deployment pipeline: challenger vs champion on rows neither trained on -> gate -> parity-checked deploy ->
promote."""

from typing import Optional

from zenml import pipeline

from core.config import GateSection, ServingSection
from steps.hooks import notify_failure

from steps.deployment.steps import (
    decide_deployment,
    deploy_challenger,
    evaluate_candidates,
    fetch_candidates,
    promote_champion,
)


@pipeline(enable_cache=False, on_failure=notify_failure)
def deployment_pipeline(
    model_name: str,
    deployment_name: str,
    gate: GateSection,
    serving: ServingSection,
    version: Optional[str] = None,
    alias: Optional[str] = None,
    force: bool = False,
) -> None:
    """Deploys a version (default: the registry's challenger) only if it earns it on rows neither model trained
    on; the decision and its reasons are an artifact."""
    candidates, holdout, schema, challenger_split, champion_holdout, champion_split, trained = fetch_candidates(
        model_name, deployment_name, version=version, alias=alias)
    challenger_eval, champion_eval, comparisons = evaluate_candidates(
        candidates, holdout, schema, challenger_split, champion_holdout, champion_split, trained, force=force)
    decision = decide_deployment(candidates, challenger_eval, champion_eval, comparisons, trained, gate, force=force)
    record = deploy_challenger(decision, candidates, holdout, schema, serving, parity_tolerance=gate.parity_tolerance)
    promote_champion(record, candidates)
