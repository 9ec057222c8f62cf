"""Pushes batch monitoring results to a Prometheus Pushgateway in the text exposition format.

A batch job has nothing for Prometheus to scrape once it has finished, so its results go to the Pushgateway, which
Prometheus scrapes (`honor_labels: true` keeps the pushed `job` and grouping labels).

Publishing is best effort: the monitoring decision is recorded before the push, so a hung, stopped or failing
Pushgateway costs a run at most `PUSH_TIMEOUT_S` and one warning line, never the run itself.
"""

from __future__ import annotations

import base64
import logging
import math
import re
import threading
import time
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple

import requests

from monitoring import metrics as m

if TYPE_CHECKING:
    from steps.monitoring.decay import DecayReport
    from steps.monitoring.decision import MonitoringDecision
    from steps.monitoring.drift import DriftReport
    from steps.monitoring.estimated_decay import EstimatedDecayReport

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_SERIES = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?$")
_LABELS = re.compile(r'(?:\s*[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"\s*,?)*')
_SAFE_PATH_VALUE = re.compile(r"^[A-Za-z0-9_.:-]+$")

PUSH_TIMEOUT_S = 5.0  # wall-clock bound on one push: connect, send and answer together
BATCH_JOB = "batch_monitoring"
STATUS_HINT = "check the monitoring stack with `python run.py monitoring status`"

logger = logging.getLogger(__name__)


class PushgatewayError(RuntimeError):
    """The Pushgateway could not be reached, did not answer in time, or refused the push."""


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def series(name: str, **labels: str) -> str:
    """A metrics-dict key for `name` with labels, e.g. series('mlops_feature_hellinger', feature='age')."""
    if not _NAME.match(name):
        raise ValueError(f"invalid Prometheus metric name {name!r}")
    if not labels:
        return name
    return name + "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items())) + "}"


def _parse_key(key: str) -> Tuple[str, str]:
    match = _SERIES.match(key)
    if not match:
        raise ValueError(f"invalid metric key {key!r}: expected name or name{{label=\"value\",...}}")
    labels = match.group("labels") or ""
    if not _LABELS.fullmatch(labels):
        raise ValueError(f"invalid labels in metric key {key!r}")
    return match.group("name"), labels


def format_exposition(metrics: Mapping[str, float]) -> str:
    """The text exposition format for `metrics` (all gauges), grouped by metric name with one TYPE line each."""
    by_name: Dict[str, List[str]] = {}
    for key, value in metrics.items():
        name, labels = _parse_key(key)
        number = float(value)
        if math.isnan(number):
            text = "NaN"
        elif math.isinf(number):
            text = "+Inf" if number > 0 else "-Inf"
        else:
            text = repr(number)
        by_name.setdefault(name, []).append(f"{name}{{{labels}}} {text}" if labels else f"{name} {text}")
    lines: List[str] = []
    for name in sorted(by_name):
        lines.append(f"# TYPE {name} gauge")
        lines.extend(by_name[name])
    return "\n".join(lines) + "\n"


def _group_path(job: str, labels: Mapping[str, str]) -> str:
    parts = [_path_pair("job", job)]
    for key, value in sorted(labels.items()):
        if not _LABEL.match(key) or key == "job":
            raise ValueError(f"invalid grouping label name {key!r}")
        parts.append(_path_pair(key, str(value)))
    return "/".join(parts)


def _path_pair(key: str, value: str) -> str:
    if _SAFE_PATH_VALUE.match(value):
        return f"{key}/{value}"
    # Values with '/' or other specials (and empty ones) travel base64url-encoded, as the Pushgateway allows.
    encoded = base64.urlsafe_b64encode(value.encode()).decode() or "="
    return f"{key}@base64/{encoded}"


def push_monitoring_results(
    pushgateway_url: str,
    job: str,
    metrics: Mapping[str, float],
    labels: Optional[Mapping[str, str]] = None,
    *,
    timeout: float = PUSH_TIMEOUT_S,
) -> str:
    """Replaces the metric group (job + `labels`) on the Pushgateway with `metrics`; returns the group URL.

    PUT, not POST: a feature that is no longer reported must disappear rather than keep its last value. Raises
    `PushgatewayError` when the gateway is unreachable, gives no full answer within `timeout` seconds, or refuses.
    """
    if not metrics:
        raise ValueError("no metrics to push")
    if not job:
        raise ValueError("job must be a non-empty string")
    url = f"{pushgateway_url.rstrip('/')}/metrics/{_group_path(job, labels or {})}"
    response = _put_within(url, format_exposition(metrics).encode(), timeout, pushgateway_url)
    if response.status_code >= 300:
        text = " ".join(response.text.split())[:200]
        raise PushgatewayError(f"the Pushgateway at {pushgateway_url} answered HTTP {response.status_code}: {text}")
    return url


def _put_within(url: str, body: bytes, timeout: float, gateway: str) -> requests.Response:
    """The PUT, abandoned after `timeout` seconds of wall time.

    requests' timeouts bound the connect and each socket read, not the whole exchange (a gateway that trickles
    bytes could hold it forever), so the request runs in a daemon thread that is simply not waited for past the
    deadline; its own socket timeouts end it soon after.
    """
    outcome: Dict[str, Any] = {}

    def attempt() -> None:
        try:
            outcome["response"] = requests.put(url, data=body, timeout=(timeout, timeout),
                                               headers={"Content-Type": "text/plain; version=0.0.4"})
        except Exception as exc:  # noqa: BLE001  (reported to the caller below, whatever it is)
            outcome["error"] = exc

    worker = threading.Thread(target=attempt, name="pushgateway-put", daemon=True)
    worker.start()
    worker.join(timeout)
    error = outcome.get("error")
    if worker.is_alive() or isinstance(error, requests.Timeout):
        raise PushgatewayError(f"the Pushgateway at {gateway} did not answer within {timeout:g} s")
    if error is not None:
        reason = " ".join(str(error).split())[:200]
        raise PushgatewayError(f"cannot reach the Pushgateway at {gateway}: {type(error).__name__}: {reason}") \
            from error
    return outcome["response"]


def publish_monitoring_results(
    pushgateway_url: str, model_name: str, metrics: Mapping[str, float], *, timeout: float = PUSH_TIMEOUT_S,
    source: Optional[str] = None,
) -> str:
    """Pushes one model's batch results (a group of their own per `source`, e.g. "live"); returns the group URL,
    or "" after one warning line when the push failed.

    Never raises for a Pushgateway fault: the monitoring decision is already recorded, and a run must not hang or
    fail because its results could not be shown on a dashboard.
    """
    try:
        labels = {m.MODEL_LABEL: model_name, **({m.SOURCE_LABEL: source} if source else {})}
        url = push_monitoring_results(pushgateway_url, BATCH_JOB, metrics, labels, timeout=timeout)
    except PushgatewayError as exc:
        logger.warning("monitoring results not pushed (the decision is recorded): %s; %s", exc, STATUS_HINT)
        return ""
    logger.info("pushed %d monitoring metrics to %s", len(metrics), url)
    return url


def monitoring_metrics(
    drift: Optional["DriftReport"] = None,
    decay: Optional["DecayReport"] = None,
    decision: Optional["MonitoringDecision"] = None,
    *,
    prediction_drift: Optional["DriftReport"] = None,
    n_rows: Optional[int] = None,
    accuracy_metric: str = "accuracy",
    estimated: Optional["EstimatedDecayReport"] = None,
) -> Dict[str, float]:
    """The gauges one monitoring run reports, keyed as `push_monitoring_results` expects."""
    out: Dict[str, float] = {m.LAST_RUN_TIMESTAMP: time.time()}
    if n_rows is not None:
        out[m.BATCH_ROWS] = float(n_rows)
    if drift is not None:
        out[m.DRIFT_SHARE] = drift.drift_share
        out[m.DRIFT_DETECTED] = float(drift.detected)
        for entry in drift.columns:
            out[series(m.FEATURE_HELLINGER, feature=entry.column)] = entry.hellinger
            out[series(m.FEATURE_DRIFTED, feature=entry.column)] = float(entry.drifted)
    if prediction_drift is not None:
        out[m.PREDICTION_DRIFT_DETECTED] = float(prediction_drift.detected)
    if decay is not None:
        out[m.MODEL_DECAYED] = float(decay.decayed)
        if accuracy_metric in decay.current_metrics:
            out[m.BATCH_ACCURACY] = decay.current_metrics[accuracy_metric]
            if accuracy_metric in decay.max_drop and accuracy_metric in decay.reference_metrics:
                # Pushed beside the accuracy so the alert compares like with like, per model.
                threshold = decay.reference_metrics[accuracy_metric] - decay.max_drop[accuracy_metric]
                out[m.BATCH_ACCURACY_THRESHOLD] = threshold
    if estimated is not None:
        out[m.ESTIMATED_DECAYED] = float(estimated.decayed)
        for metric, band in estimated.estimates.items():
            for bound in ("estimate", "lower", "upper"):
                if band.get(bound) is not None:
                    out[series(m.ESTIMATED_METRIC, metric=metric, bound=bound)] = float(band[bound])
    if decision is not None:
        from steps.monitoring.decision import ACTIONS

        for action in ACTIONS:
            out[series(m.DECISION, action=action)] = float(decision.action == action)
    return out
