"""ZenML steps of the deployment stage: compare challenger and champion, gate, deploy with a parity check, promote."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Tuple

import pandas as pd
from typing_extensions import Annotated
from zenml import step

import materializers.project_materializers  # noqa: F401  (registers the project's materializers)
from core.config import GateSection, ServingSection
from core import names
from steps.data.rows import RowLeakError, SplitManifest
from steps.data.schema import DataSchema
from steps.deployment.gate import Comparison, DeploymentDecision
from steps.deployment.record import Candidates, DeploymentRecord
from steps.evaluation.metrics import EvaluationReport

logger = logging.getLogger(__name__)

# The candidate's evaluation from its training run; named apart from names.EVALUATION_REPORT so that a model
# version's `get_artifact(EVALUATION_REPORT)` keeps answering with the training run's own report.
CHALLENGER_TRAINING_EVALUATION = "challenger_training_evaluation"


def _tracking_uri() -> Optional[str]:
    from steps.deployment.rollout import tracking_uri

    return tracking_uri()


@step(enable_cache=False)
def fetch_candidates(
    model_name: str, deployment_name: str, version: Optional[str] = None, alias: Optional[str] = None
) -> Tuple[Annotated[Candidates, "candidates"], Annotated[pd.DataFrame, names.HOLDOUT_SET],
           Annotated[DataSchema, names.DATA_SCHEMA], Annotated[SplitManifest, "challenger_split"],
           Annotated[Optional[pd.DataFrame], "champion_holdout"], Annotated[Optional[SplitManifest], "champion_split"],
           Annotated[EvaluationReport, CHALLENGER_TRAINING_EVALUATION]]:
    """The version to deploy (chosen `version` or `alias`, else the challenger) and the champion, each with its
    holdout and split manifest (through its ZenML model version), and what the model's endpoint serves now: what
    the comparison needs to use only rows neither model trained on. Also the candidate's own training evaluation:
    its behaviour checks and the numeric slice bins it was evaluated with."""
    from steps.deployment.comparison import split_of
    from steps.deployment.registry import by_alias, select_version
    from steps.deployment.rollout import serving_version, training_artifacts
    from steps.training.tracking import CHAMPION_ALIAS

    uri = _tracking_uri()
    candidate, selected_by = select_version(model_name, version, alias, uri)
    champion = by_alias(model_name, CHAMPION_ALIAS, uri)
    model_version, holdout, schema = training_artifacts(candidate)
    champion_holdout, champion_split = None, None
    if champion is not None and champion.version != candidate.version:
        champion_version, champion_holdout, _ = training_artifacts(champion)
        champion_split = split_of(champion_version)
    serving = serving_version(deployment_name, model_name)
    logger.info("candidate v%s (%s; ZenML model version %s), champion %s, endpoint '%s' serving %s",
                candidate.version, selected_by, model_version.name, f"v{champion.version}" if champion else "none",
                deployment_name, f"v{serving}" if serving else "nothing")
    candidates = Candidates(
        model_name=model_name, challenger=candidate.__dict__, champion=champion.__dict__ if champion else None,
        zenml_model_version=str(model_version.id), deployment_name=deployment_name, selected_by=selected_by,
        serving_version=serving,
    )
    trained = model_version.get_artifact(names.EVALUATION_REPORT).load()
    return candidates, holdout, schema, split_of(model_version), champion_holdout, champion_split, trained


@step(enable_cache=False)
def evaluate_candidates(
    candidates: Candidates,
    holdout_set: pd.DataFrame,
    schema: DataSchema,
    challenger_split: SplitManifest,
    champion_holdout: Optional[pd.DataFrame],
    champion_split: Optional[SplitManifest],
    challenger_training_evaluation: EvaluationReport,
    force: bool = False,
) -> Tuple[Annotated[EvaluationReport, "challenger_evaluation"], Annotated[Optional[EvaluationReport],
           "champion_evaluation"], Annotated[List[Comparison], "comparisons"]]:
    """Challenger and champion scored with the same metrics on the same rows, only rows neither trained on: the
    challenger's holdout (for a retrain: the recent window) and the champion's holdout (the previous one); slices
    are the categorical values and the numeric bins the challenger's training evaluation used."""
    from steps.deployment.comparison import IncomparableModelsError, compare, comparison_sets, model_features, score
    from steps.deployment.registry import download_model, load_model
    from core.state import state_dir

    uri = _tracking_uri()
    first, previous = comparison_sets(holdout_set, challenger_split, champion_holdout, champion_split)
    refs = (candidates.challenger_ref, candidates.champion_ref if champion_split is not None else None)
    challenger, champion = (load_model(download_model(r, state_dir() / "models", uri)) if r else None for r in refs)
    if champion is not None and force:
        try:
            model_features(champion, first.frame, schema)
        except IncomparableModelsError as exc:  # --force waives the comparison: score the candidate alone
            logger.warning("champion not compared (--force): %s", exc)
            champion, previous = None, None
    bins = challenger_training_evaluation.slice_bins
    challenger_report = score(challenger, first.frame, schema, bins)
    if challenger_report is None:
        raise RowLeakError(f"{first.name}: all {first.excluded} held-out rows of the challenger were training rows of "
                           "the champion; no fair comparison is possible. Train the challenger on data with rows "
                           "the champion has not seen")
    champion_report = score(champion, first.frame, schema, bins) if champion is not None else None
    comparisons = [compare(first, challenger, champion, schema, bins)]
    if previous is not None:
        comparisons.append(compare(previous, challenger, champion, schema, bins))
    primary = challenger_report.primary_metric
    for c in comparisons:
        logger.info("%s; %s: challenger %s, champion %s", c.describe(), primary, _show(c.challenger, primary),
                    _show(c.champion, primary))
    return challenger_report, champion_report, comparisons


def _show(metrics: Optional[Dict[str, float]], metric: Optional[str]) -> str:
    return f"{metrics[metric]:.4f}" if metrics and metric in metrics else "-"


@step(enable_cache=False)
def decide_deployment(
    candidates: Candidates,
    challenger_evaluation: EvaluationReport,
    champion_evaluation: Optional[EvaluationReport],
    comparisons: List[Comparison],
    challenger_training_evaluation: EvaluationReport,
    gate: GateSection,
    force: bool = False,
) -> Annotated[DeploymentDecision, names.DEPLOYMENT_DECISION]:
    """Deploy only if the candidate meets the thresholds and beats the champion by the margin on the rows neither
    trained on, without losing more than the tolerance on the previous holdout (`force` waives the comparison with
    the champion, never the thresholds or the parity check); with `gate.block_on_behaviour`, only if it passed its
    behaviour checks; a champion whose endpoint is down is served again."""
    from steps.deployment.gate import decide

    decision = decide(
        challenger_version=candidates.challenger["version"],
        challenger_metrics=challenger_evaluation.metrics,
        primary_metric=challenger_evaluation.primary_metric,
        min_metrics=gate.min_metrics.get(challenger_evaluation.task, {}),
        min_improvement=gate.min_improvement,
        champion_version=candidates.champion["version"] if candidates.champion else None,
        champion_metrics=champion_evaluation.metrics if champion_evaluation else None,
        serving_version=candidates.serving_version,
        force=force,
        recent=comparisons[0],
        previous=comparisons[1] if len(comparisons) > 1 else None,
        max_previous_loss=gate.max_previous_loss,
        min_rows=gate.min_comparison_rows,
        max_slice_loss=gate.max_slice_loss,
        min_slice_rows=gate.min_slice_rows,
        behaviour=challenger_training_evaluation.behaviour,
        block_on_behaviour=gate.block_on_behaviour,
    )
    for reason in decision.reasons:
        logger.info("gate: %s", reason)
    logger.info("decision: %s", decision.decision)
    return decision


@step(enable_cache=False)
def deploy_challenger(
    decision: DeploymentDecision,
    candidates: Candidates,
    holdout_set: pd.DataFrame,
    schema: DataSchema,
    serving: ServingSection,
    parity_tolerance: float,
) -> Annotated[DeploymentRecord, names.DEPLOYMENT_INFO]:
    """Blue/green deploy of the candidate behind the model's stable URL; it takes traffic only after the parity
    check."""
    from steps.deployment.rollout import deploy_version

    if not decision.deploy:
        logger.info("not deploying: %s", "; ".join(decision.reasons))
        return DeploymentRecord.skipped(candidates, decision.reasons)
    return deploy_version(candidates.challenger_ref, holdout_set, schema, serving, candidates.deployment_name,
                          parity_tolerance, _tracking_uri())


@step(enable_cache=False)
def promote_champion(record: DeploymentRecord, candidates: Candidates) -> Annotated[Dict[str, Any], "promotion"]:
    """MLflow alias `champion` (previous one kept as `previous-champion`) and ZenML stage `production`."""
    from steps.deployment.rollout import promote_served

    if not record.deployed:
        return {"promoted": False, "champion": candidates.champion["version"] if candidates.champion else None}
    previous = promote_served(record, candidates.zenml_model_version, _tracking_uri())
    logger.info("v%s is now the champion (previous: %s); endpoint %s", record.model_version, previous or "none",
                record.url)
    return {"promoted": True, "champion": record.model_version, "previous_champion": previous}
