"""`run.py monitor --live`: the monitoring pipeline on the traffic the model's endpoint recorded."""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

from pipelines.config import MonitoringConfig


def run_live_monitoring(
    config: MonitoringConfig, model_name: str, since: Optional[str] = None, say: Callable[[str], None] = print
) -> Dict[str, Any]:
    """Monitors the windows recorded since the last check (or in the last `since`) against the champion; the
    checkpoint moves only when the run succeeded, so a failed check is repeated, never skipped."""
    import time

    from pipelines.continuous_training import run_monitoring
    from pipelines.selection import deployment_of
    from steps.deployment.rollout import active_deployer
    from steps.monitoring.live import live_dir_of, select_windows, write_checkpoint

    deployment = deployment_of(model_name)
    directory = live_dir_of(active_deployer().status(deployment))
    checked_at = time.time()
    windows, covered = select_windows(directory, since, checked_at)
    say(f"live monitoring of '{deployment}': {len(windows)} window(s), {covered}, from {directory}")
    outcome = run_monitoring(config, model_name, {"live": {"directory": str(directory), "windows": windows}}, say)
    write_checkpoint(directory, windows, checked_at)
    return outcome
