"""An alerter flavor that posts Slack-compatible JSON to a webhook URL (Slack, Mattermost, Rocket.Chat, a relay).

The URL is configs/monitoring.yaml's `alerts.webhook_url`, the same one Alertmanager delivers to, so one setting
routes both; the component's own `webhook_url` overrides it for a stack of its own. Without any URL every post is
a no-op that says so once. Pipelines notify through it from their hooks (steps/hooks.py).
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Type

from zenml.alerter.base_alerter import BaseAlerter, BaseAlerterConfig, BaseAlerterFlavor, BaseAlerterStepParameters
from zenml.utils.secret_utils import SecretField

from stacks.flavors.base import ProjectFlavorMixin

FLAVOR_NAME = "project_webhook"


class WebhookAlerterConfig(BaseAlerterConfig):
    """Where to post; None: configs/monitoring.yaml's alerts.webhook_url (a `{{secret.key}}` reference works)."""

    webhook_url: Optional[str] = SecretField(default=None)


class NotificationParameters(BaseAlerterStepParameters):
    """What the project's hooks pass along with the message: a headline, a severity, the facts."""

    title: str = ""
    severity: str = "info"
    fields: Dict[str, Any] = {}
    alerts: Optional[Dict[str, Any]] = None  # the running command's `alerts:` config section (default: the shipped one)


class WebhookAlerter(BaseAlerter):
    """Posts notifications as JSON; `ask` is not supported (a webhook has no way to answer)."""

    @property
    def config(self) -> WebhookAlerterConfig:
        return self._config  # type: ignore[return-value]

    def target(self, alerts: Optional[Dict[str, Any]] = None) -> Tuple[Optional[str], float]:
        """(url, timeout): the component's URL, else the `alerts` section of the command's monitoring config (the
        shipped configs/monitoring.yaml when the command was given none)."""
        from core.config import AlertsSection, MonitoringConfig, load_config

        section = AlertsSection(**alerts) if alerts else load_config("monitoring", MonitoringConfig).alerts
        return self.config.webhook_url or section.webhook_url, section.timeout_seconds

    def post(self, message: str, params: Optional[BaseAlerterStepParameters] = None) -> bool:
        from monitoring.notify import Notification, post_notification, text_notification

        if isinstance(params, NotificationParameters) and params.title:
            note = Notification(params.title, message, params.severity, dict(params.fields))
        else:
            note = text_notification(message)
        url, timeout = self.target(params.alerts if isinstance(params, NotificationParameters) else None)
        return post_notification(url, note, timeout)

    def ask(self, question: str, params: Optional[BaseAlerterStepParameters] = None) -> bool:
        raise NotImplementedError(f"the {FLAVOR_NAME} alerter only posts; use ZenML's Slack alerter for approvals")


class WebhookAlerterFlavor(ProjectFlavorMixin, BaseAlerterFlavor):
    """Slack-compatible webhook alerter."""

    @property
    def name(self) -> str:
        return FLAVOR_NAME

    @property
    def config_class(self) -> Type[WebhookAlerterConfig]:
        return WebhookAlerterConfig

    @property
    def implementation_class(self) -> Type[WebhookAlerter]:
        return WebhookAlerter

    @property
    def logo_url(self) -> str:
        return "https://public-flavor-logos.s3.eu-central-1.amazonaws.com/alerter/slack.png"


WebhookAlerter.FLAVOR = WebhookAlerterFlavor
