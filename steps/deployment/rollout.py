"""Deploys one registered model version through the active stack's Seldon deployer, parity-checked before it
takes traffic. Shared by the deployment pipeline and `run.py rollback`."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Callable, Dict, Optional, Tuple

import pandas as pd

from core.config import ServingSection
from steps.data.schema import DataSchema
from steps.deployment.record import DeploymentRecord
from steps.deployment.registry import ModelRef, RegistryError, download_model, load_model

logger = logging.getLogger(__name__)


class NoDeployerError(RuntimeError):
    """The active stack has no model deployer."""


def active_deployer() -> Any:
    """The active stack's model deployer, instantiated on its own: instantiating the whole stack would import MLflow
    for the experiment tracker, seconds that `deployments`, `predict` and `monitoring up` do not need."""
    from zenml.client import Client
    from zenml.enums import StackComponentType
    from zenml.stack import StackComponent

    deployers = Client().active_stack_model.components.get(StackComponentType.MODEL_DEPLOYER)
    if not deployers:
        raise NoDeployerError("the active stack has no model deployer; use a stack with one (e.g. `local`)")
    return StackComponent.from_model(deployers[0])


def scrape_targets() -> list:
    """Metrics URLs of the active stack's running deployments (stable across blue/green redeploys)."""
    try:
        return [d.details["metrics_url"] for d in active_deployer().list_deployments()
                if d.state == "active" and d.details.get("metrics_url")]
    except NoDeployerError:
        return []


def refresh_scrape_targets() -> None:
    """Points a running local Prometheus at the current endpoints (no-op when monitoring is not up)."""
    from monitoring import local

    if local.status().get("running"):
        local.write_scrape_targets(scrape_targets())


def tracking_uri() -> Optional[str]:
    """The active stack's MLflow tracking URI (credentials configured for this process)."""
    from zenml.client import Client

    tracker = Client().active_stack.experiment_tracker
    if tracker is None:
        return None
    tracker.configure_mlflow()
    return tracker.get_tracking_uri()


def zenml_model_version(ref: ModelRef) -> Any:
    """The ZenML model version of the training run that registered `ref` (found through its `zenml_run_id` tag)."""
    from zenml.client import Client

    if not ref.zenml_run_id:
        raise RegistryError(f"{ref.name} v{ref.version} has no zenml_run_id tag: it was not registered by a pipeline")
    try:
        model_version = Client().get_pipeline_run(ref.zenml_run_id).model_version
    except KeyError:
        model_version = None
    if model_version is None:
        raise RegistryError(f"{ref.name} v{ref.version}: its training run {ref.zenml_run_id} (or that run's model "
                            "version) is not in this ZenML store; use the stack it was trained on (`--stack`)")
    return model_version


def training_artifacts(ref: ModelRef) -> Tuple[Any, pd.DataFrame, DataSchema]:
    """(ZenML model version, holdout, data schema) of the training run that registered `ref`."""
    from core import names

    model_version = zenml_model_version(ref)
    return (model_version, model_version.get_artifact(names.HOLDOUT_SET).load(),
            model_version.get_artifact(names.DATA_SCHEMA).load())


def serving_version(deployment_name: str, model_name: str) -> Optional[str]:
    """The version of `model_name` that `deployment_name` actively serves, or None (down, stopped, other model)."""
    info = active_deployer().status(deployment_name)
    if info is None or info.state != "active" or info.model_name != model_name:
        return None
    return info.model_version


def promote_served(
    record: DeploymentRecord, zenml_model_version_id: str, tracking_uri: Optional[str], retire_previous: bool = False
) -> Optional[str]:
    """After `record`'s version took traffic: MLflow `champion` (the one it replaces becomes `previous-champion`, or
    with `retire_previous`, as on a rollback, is retired: tagged rolled-back and no longer the challenger), ZenML
    stage `production` and the endpoint on the ZenML model version. Returns the replaced version.
    The one promotion, used by the deployment pipeline and by rollback."""
    from zenml import log_metadata

    from steps.deployment.registry import promote, roll_back

    previous = (roll_back if retire_previous else promote)(record.model_name, record.model_version, tracking_uri)
    mark_production(record.model_name, zenml_model_version_id)
    log_metadata(metadata={"endpoint": record.url, "mlflow_version": record.model_version},
                 model_name=record.model_name, model_version=zenml_model_version_id)
    return previous


def mark_production(model_name: str, model_version_id: str) -> None:
    """The ZenML model version now serving gets stage `production` (the previous holder is archived by ZenML)."""
    from uuid import UUID

    from zenml.client import Client
    from zenml.enums import ModelStages

    Client().update_model_version(model_name_or_id=model_name, version_name_or_id=UUID(model_version_id),
                                  stage=ModelStages.PRODUCTION, force=True)


def artifact_location(ref: ModelRef, tracking_uri: Optional[str]) -> str:
    """Where the model's files physically live (e.g. s3://mlflow/...), for a cluster to fetch them itself."""
    import mlflow

    return mlflow.MlflowClient(tracking_uri=tracking_uri).get_model_version_download_uri(ref.name, ref.version)


def deploy_version(
    ref: ModelRef,
    holdout: pd.DataFrame,
    schema: DataSchema,
    serving: ServingSection,
    deployment_name: str,
    parity_tolerance: float,
    tracking_uri: Optional[str],
) -> DeploymentRecord:
    """Serves `ref` behind the stable URL of `deployment_name`; the old model keeps serving on failure."""
    release = checked_release(ref, holdout, schema, serving, deployment_name, parity_tolerance, tracking_uri)
    info = release.deployer.deploy(release.spec, verify=release.verify, timeout=serving.timeout_seconds)
    logger.info("v%s serving at %s", ref.version, info.url)
    refresh_scrape_targets()
    return release.record(info, f"deployed with rollout '{release.spec.rollout}'")


def start_challenger_version(
    ref: ModelRef,
    holdout: pd.DataFrame,
    schema: DataSchema,
    serving: ServingSection,
    deployment_name: str,
    parity_tolerance: float,
    tracking_uri: Optional[str],
    split: Any,
) -> DeploymentRecord:
    """Serves `ref` as the A/B challenger of `deployment_name` with `split` (stacks.seldon.spec.TrafficSplit), after
    the same checks as a deploy (health, own input example, parity on holdout rows); the champion keeps serving."""
    release = checked_release(ref, holdout, schema, serving, deployment_name, parity_tolerance, tracking_uri)
    info = release.deployer.start_challenger(release.spec, split, verify=release.verify,
                                             timeout=serving.timeout_seconds)
    return release.record(info, f"challenger in an A/B test: {split.describe()}")


@dataclasses.dataclass
class CheckedRelease:
    """A model version about to serve: the deployer, the spec, and the parity check its candidate must pass."""

    ref: ModelRef
    deployer: Any
    backend: str
    spec: Any
    parity: Dict[str, Any]
    verify: Callable[[str], None]

    def record(self, info: Any, note: str) -> DeploymentRecord:
        return DeploymentRecord(
            deployment_name=self.spec.name, deployed=True, model_name=self.ref.name, model_version=self.ref.version,
            url=info.url, state=info.state, backend=self.backend, parity=self.parity, notes=[note],
        )


def checked_release(
    ref: ModelRef,
    holdout: pd.DataFrame,
    schema: DataSchema,
    serving: ServingSection,
    deployment_name: str,
    parity_tolerance: float,
    tracking_uri: Optional[str],
) -> CheckedRelease:
    """The spec for `ref` behind `deployment_name` and the parity check (endpoint vs offline on holdout rows) its
    candidate must pass before it takes any traffic: one recipe for a deploy and an A/B challenger."""
    from stacks.seldon.spec import ModelDeploymentSpec
    from core.state import state_dir
    from steps.deployment.parity import check_parity

    deployer = active_deployer()
    backend = getattr(deployer.config, "backend", "local")
    model_dir = download_model(ref, state_dir() / "models", tracking_uri)
    # Local daemons read the downloaded directory; a cluster pulls the model from the artifact store itself.
    model_uri = str(model_dir) if backend == "local" else artifact_location(ref, tracking_uri)
    offline = load_model(model_dir)
    sample = holdout[schema.features].head(serving.parity_rows)
    expected = offline.predict(sample) if schema.task == "regression" else offline.predict_proba(sample)
    parity: Dict[str, Any] = {}

    def verify(candidate_url: str) -> None:
        parity.update(check_parity(candidate_url, sample, expected, parity_tolerance))
        logger.info("parity: %d holdout rows, max |endpoint - offline| = %.3g", parity["rows"],
                    parity["max_abs_diff"])

    spec = ModelDeploymentSpec(
        name=deployment_name, model=ref.identity(model_uri), replicas=serving.replicas, workers=serving.workers,
        threads=serving.threads, rollout=serving.rollout, canary_traffic_percent=serving.canary_traffic_percent,
        recording={"enabled": serving.recording.enabled, **serving.recording.daemon_settings()},
    )
    return CheckedRelease(ref=ref, deployer=deployer, backend=backend, spec=spec, parity=parity, verify=verify)
