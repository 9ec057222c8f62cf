"""Notifications the pipelines send (a failed run, a rejected batch, a monitoring decision) as Slack-compatible JSON.

Plain code, no ZenML: the project's alerter flavor (stacks/flavors/webhook_alerter.py) and the pipeline hooks
(steps/hooks.py) call it. The body is what a Slack incoming webhook takes, `{"text": ...}` with one attachment of
fields, plus `event`: the same facts as structured JSON for any other receiver.

Delivery is best effort: an unset URL is a no-op said once per process, an unreachable or refusing receiver costs at
most `timeout` seconds and one warning, never the run that wanted to notify.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, Dict, List, Mapping, Optional
from urllib.parse import urlparse

import requests

logger = logging.getLogger(__name__)

_SAID_NO_URL = False  # the "not configured" notice is given once per process, not once per notification
MAX_ERROR_CHARS = 600  # Slack truncates long messages badly; the full traceback is in the run's logs


@dataclasses.dataclass(frozen=True)
class Notification:
    """One message: a headline, a body, and the facts behind it."""

    title: str
    text: str
    severity: str  # info | warning | critical
    fields: Dict[str, Any]

    def payload(self) -> Dict[str, Any]:
        """Slack-compatible JSON: `text` for Slack-like receivers, an attachment with fields, `event` for machines."""
        return {
            "text": f"*{self.title}*\n{self.text}",
            "attachments": [{
                "color": {"critical": "danger", "warning": "warning"}.get(self.severity, "good"),
                "fields": [{"title": k, "value": str(v), "short": len(str(v)) < 40} for k, v in self.fields.items()],
            }],
            "event": {"title": self.title, "severity": self.severity, **self.fields, "time": time.time()},
        }


def _short(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS] + " ..."


def failure_notification(pipeline: str, run: str, step: str, error: BaseException, *,
                         rejected_batch: bool = False, model_name: Optional[str] = None) -> Notification:
    """A step failed: a rejected batch (validation) reads as such, anything else as a failed run."""
    fields = {"pipeline": pipeline, "run": run, "step": step, **({"model": model_name} if model_name else {})}
    if rejected_batch:
        return Notification(f"Batch rejected by validation ({pipeline})",
                            f"Step `{step}` of run `{run}` refused the batch:\n{_short(error)}", "warning",
                            {**fields, "event": "batch_rejected"})
    return Notification(f"Pipeline run failed: {pipeline}", f"Step `{step}` of run `{run}` failed:\n{_short(error)}",
                        "critical", {**fields, "event": "run_failed"})


def decision_notification(model_name: str, action: str, reasons: List[str], run: str = "") -> Optional[Notification]:
    """Monitoring decided to alert or retrain (None for 'none': nothing to tell)."""
    if action == "none":
        return None
    headline = "retrain" if action == "retrain" else "look at"
    return Notification(f"Monitoring: {headline} model '{model_name}' ({action})",
                        "\n".join(f"- {r}" for r in reasons) or "(no reason given)",
                        "critical" if action == "retrain" else "warning",
                        {"event": "monitoring_decision", "model": model_name, "action": action,
                         **({"run": run} if run else {})})


def _say_no_url_once(title: str) -> None:
    global _SAID_NO_URL
    if not _SAID_NO_URL:
        _SAID_NO_URL = True
        logger.info("notifications are not sent: no alerts.webhook_url in configs/monitoring.yaml (and none in the "
                    "alerter's configuration); this one was: %s", title)


def post_notification(url: Optional[str], note: Notification, timeout: float) -> bool:
    """POSTs `note` to `url`; True when the receiver accepted it. Never raises."""
    if not url:
        _say_no_url_once(note.title)
        return False
    where = urlparse(url).netloc  # the path of a Slack webhook URL is its secret: never logged
    try:
        response = requests.post(url, json=note.payload(), timeout=timeout)
    except requests.RequestException as exc:
        logger.warning("notification '%s' not delivered to %s: %s", note.title, where, type(exc).__name__)
        return False
    if response.status_code >= 300:
        logger.warning("notification '%s' refused by %s: HTTP %d %s", note.title, where, response.status_code,
                       " ".join(response.text.split())[:200])
        return False
    return True


def text_notification(message: str, fields: Optional[Mapping[str, Any]] = None) -> Notification:
    """A plain message (the alerter's `post(message)` from any ZenML code) as a notification."""
    title, _, rest = message.partition("\n")
    return Notification(title.strip("* "), rest.strip(), "info", dict(fields or {}))
