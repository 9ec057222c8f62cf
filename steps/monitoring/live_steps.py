"""The source step of live monitoring: what the endpoint served in the windows checked, instead of a batch file.

The rest of the monitoring pipeline is the batch one (validation, feature and prediction drift, decay, decision,
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

logger = logging.getLogger(__name__)


@step(enable_cache=False)
def load_live_traffic(
    live_source: Dict[str, Any], schema: DataSchema
) -> Tuple[Annotated[pd.DataFrame, "batch"], Annotated[pd.DataFrame, "served_features"],
           Annotated[pd.DataFrame, names.BATCH_PREDICTIONS], Annotated[Any, names.BATCH_PROFILE],
           Annotated[int, "batch_rows"]]:
    """Served rows (labels joined where fed back; most are not, yet), the same rows without labels for validation,
    their predictions, and the windows' merged whylogs profile."""
    from pathlib import Path

    from serving import live_store
    from core.whylogs_env import why  # noqa: F401  (whylogs under numpy 2, before live_store reads profiles)
    from steps.monitoring.live import LiveTrafficError, served_traffic

    directory, windows = Path(live_source["directory"]), live_source["windows"]
    profile = live_store.merged_profile(directory, windows)
    if profile is None:
        raise LiveTrafficError(f"no profiles in windows {windows[0]}..{windows[-1]} under {directory}")
    traffic = served_traffic(directory, windows, schema.features, schema.target, schema.classes)
    logger.info("live traffic: %d windows (%s .. %s), %d rows profiled, %d in the prediction log, %d labelled",
                len(windows), windows[0], windows[-1], profile.get_column(schema.features[0])
                .get_metric("counts").n.value, len(traffic.batch), traffic.labelled)
    features = traffic.batch[list(schema.features)]
    return traffic.batch, features, traffic.predictions, profile, len(traffic.batch)
