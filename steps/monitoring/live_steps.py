"""The source steps of live monitoring: which recorded windows this run checks (since the last check), what the
endpoint served in them instead of a batch file, and the checkpoint a successful run leaves for the next one.

Window selection and the checkpoint are steps, not CLI code, so one compiled pipeline run again and again (a ZenML
schedule: a CronJob on the kubernetes orchestrator) reads new windows each time. The rest of the monitoring pipeline is the batch one (validation, feature and prediction drift, decay, decision,
Prometheus); only where the rows, their profile and their predictions come from differs.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Tuple

import pandas as pd
from typing_extensions import Annotated
from zenml import step

import materializers.project_materializers  # noqa: F401  (registers the project's materializers)
from core import names
from steps.data.schema import DataSchema
from steps.monitoring.decision import MonitoringDecision

logger = logging.getLogger(__name__)


def _checkpoint_location(live_source: Dict[str, Any]) -> str:
    """The checkpoint file: `live_source["checkpoint"]` (a path or an artifact-store URI), else next to the windows."""
    from steps.monitoring.live import checkpoint_path

    return str(live_source.get("checkpoint") or checkpoint_path(live_source["directory"]))


def _read_checkpoint(location: str) -> Dict[str, Any]:
    import json

    from zenml.io import fileio  # local paths and the stack's artifact store (s3://...) alike

    if not fileio.exists(location):
        return {}
    with fileio.open(location, "r") as handle:
        return json.loads(handle.read())


def _write_checkpoint(location: str, checkpoint: Dict[str, Any]) -> None:
    import json
    from pathlib import Path

    from zenml.io import fileio
    from serving import live_store

    data = json.dumps(checkpoint)
    if "://" not in location:
        live_store.write_atomic(Path(location), data.encode())  # a reader never sees half a file
        return
    with fileio.open(location, "w") as handle:
        handle.write(data)


@step(enable_cache=False)
def select_live_windows(live_source: Dict[str, Any]) -> Annotated[Dict[str, Any], names.LIVE_WINDOWS]:
    """The windows this run checks: those of the last `since`, else those since the last successful check."""
    import time

    from steps.monitoring.live import select_windows

    location = _checkpoint_location(live_source)
    checked_at = time.time()
    windows, covered = select_windows(live_source["directory"], live_source.get("since"), checked_at,
                                      last=_read_checkpoint(location))
    logger.info("live monitoring: %d window(s), %s, from %s", len(windows), covered, live_source["directory"])
    return {"directory": str(live_source["directory"]), "windows": windows, "covered": covered,
            "checked_at": checked_at, "checkpoint": location}


@step(enable_cache=False)
def advance_live_checkpoint(
    live_windows: Dict[str, Any], decision: MonitoringDecision
) -> Annotated[Dict[str, Any], names.LIVE_CHECKPOINT]:
    """After a successful decision on `live_windows`: the next run starts after them (a failed run moves nothing,
    so its windows are checked again, never skipped)."""
    from steps.monitoring.live import checkpoint_after

    checkpoint = checkpoint_after(live_windows["directory"], live_windows["windows"], live_windows["checked_at"])
    _write_checkpoint(live_windows["checkpoint"], checkpoint)
    logger.info("live checkpoint: checked until %s (decision %s), in %s", checkpoint["checked_until"],
                decision.action, live_windows["checkpoint"])
    return checkpoint


@step(enable_cache=False)
def load_live_traffic(
    live_windows: Dict[str, Any], schema: DataSchema
) -> Tuple[Annotated[pd.DataFrame, "batch"], Annotated[pd.DataFrame, "served_features"],
           Annotated[pd.DataFrame, names.BATCH_PREDICTIONS], Annotated[Any, names.BATCH_PROFILE],
           Annotated[int, "batch_rows"]]:
    """Served rows (labels joined where fed back; most are not, yet), the same rows without labels for validation,
    their predictions, and the windows' merged whylogs profile."""
    from pathlib import Path

    from serving import live_store
    from core.whylogs_env import why  # noqa: F401  (whylogs under numpy 2, before live_store reads profiles)
    from steps.monitoring.live import LiveTrafficError, served_traffic

    directory, windows = Path(live_windows["directory"]), live_windows["windows"]
    profile = live_store.merged_profile(directory, windows)
    if profile is None:
        raise LiveTrafficError(f"no profiles in windows {windows[0]}..{windows[-1]} under {directory}")
    traffic = served_traffic(directory, windows, schema.features, schema.target, schema.classes)
    logger.info("live traffic: %d windows (%s .. %s), %d rows profiled, %d in the prediction log, %d labelled",
                len(windows), windows[0], windows[-1], profile.get_column(schema.features[0])
                .get_metric("counts").n.value, len(traffic.batch), traffic.labelled)
    features = traffic.batch[list(schema.features)]
    return traffic.batch, features, traffic.predictions, profile, len(traffic.batch)
