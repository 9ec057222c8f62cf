"""Pipeline hooks and the one call that notifies through the active stack's alerter.

Thin on purpose: the message is formatted by monitoring/notify.py (plain code), the alerter posts it. A stack
without an alerter (a user's own stack) is a no-op said once, like an alerter without a URL.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Optional

from monitoring.notify import Notification, decision_notification, failure_notification

logger = logging.getLogger(__name__)
_SAID_NO_ALERTER = False


def notify(note: Notification, alerts: Optional[Dict[str, Any]] = None) -> bool:
    """Posts `note` through the active stack's alerter (to `alerts`' webhook: the command's monitoring config, else
    the shipped one); True when it was delivered. Never raises."""
    global _SAID_NO_ALERTER
    from zenml.client import Client

    from stacks.flavors.webhook_alerter import NotificationParameters, WebhookAlerter

    try:
        alerter = Client().active_stack.alerter
        if alerter is None:
            if not _SAID_NO_ALERTER:
                _SAID_NO_ALERTER = True
                logger.info("the active stack has no alerter: notifications are not sent (this one was: %s)",
                            note.title)
            return False
        if isinstance(alerter, WebhookAlerter):
            params = NotificationParameters(title=note.title, severity=note.severity, fields=note.fields,
                                            alerts=alerts)
            return alerter.post(note.text, params)
        return bool(alerter.post(f"*{note.title}*\n{note.text}"))  # another flavor (ZenML's Slack, Discord, ...)
    except Exception as exc:  # noqa: BLE001 - a notification never fails the run it reports on
        logger.warning("notification '%s' not sent: %s: %s", note.title, type(exc).__name__, exc)
        return False


def notify_failure(exception: BaseException) -> None:
    """on_failure hook: a failed step tells someone; a batch refused by validation says so."""
    from zenml import get_step_context

    from steps.data.validation import DataValidationError

    context = get_step_context()
    try:
        model = context.model.name
    except Exception:  # noqa: BLE001 - StepContextError: a pipeline without a model (monitoring, deployment)
        model = None
    notify(failure_notification(context.pipeline.name, context.pipeline_run.name, context.step_run.name, exception,
                                rejected_batch=isinstance(exception, DataValidationError), model_name=model))


def notify_decision(model_name: str, action: str, reasons: list, run: str = "",
                    alerts: Optional[Dict[str, Any]] = None) -> bool:
    """Tells someone that monitoring decided to alert or retrain (nothing for 'none')."""
    note = decision_notification(model_name, action, reasons, run)
    return notify(note, alerts) if note else False
