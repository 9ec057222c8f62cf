"""Alertmanager configuration rendered from configs/monitoring.yaml's `alerts:` section.

The project's alert rules (alerts.yml) fire in Prometheus, which sends them to the Alertmanager that
`run.py monitoring up` runs; Alertmanager groups them and delivers them to one receiver: the configured
`webhook_url` as Slack-compatible JSON (Alertmanager's slack receiver) or as Alertmanager's own webhook JSON.
Without a URL the receiver is empty: alerts stay visible in Alertmanager's UI and `amtool alert`, nothing is sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import yaml

from core.config import AlertsSection

RECEIVER = "project-webhook"
NO_RECEIVER = "kept-in-alertmanager"
GROUP_BY = ["alertname", "model_name", "instance"]
CONFIG_FILE = "alertmanager.yml"

# Slack-compatible message: one attachment per notification, each alert's summary and description.
_SLACK_TITLE = '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] ' \
               '{{ .CommonLabels.alertname }}{{ with .CommonLabels.model_name }} ({{ . }}){{ end }}'
_SLACK_TEXT = '{{ range .Alerts }}*{{ .Labels.severity }}*: {{ .Annotations.summary }}\n' \
              '{{ .Annotations.description }}\n{{ end }}'


def receiver_config(alerts: AlertsSection) -> Dict[str, Any]:
    """The one receiver every alert is routed to."""
    if not alerts.webhook_url:
        return {"name": NO_RECEIVER}
    if alerts.format == "webhook":
        return {"name": RECEIVER, "webhook_configs": [{"url": alerts.webhook_url, "send_resolved": True}]}
    return {"name": RECEIVER, "slack_configs": [{
        "api_url": alerts.webhook_url, "send_resolved": True, "title": _SLACK_TITLE, "text": _SLACK_TEXT,
    }]}


def alertmanager_config(alerts: AlertsSection) -> Dict[str, Any]:
    """Alertmanager's configuration as a mapping (what `amtool check-config` validates once written)."""
    receiver = receiver_config(alerts)
    return {
        "route": {
            "receiver": receiver["name"],
            "group_by": GROUP_BY,
            "group_wait": alerts.group_wait,
            "group_interval": alerts.group_interval,
            "repeat_interval": alerts.repeat_interval,
        },
        "receivers": [receiver],
    }


def write_alertmanager_config(alerts: AlertsSection, directory: Path) -> Path:
    """Writes alertmanager.yml into `directory` (mode 0600: a webhook URL is a credential) and returns it."""
    path = Path(directory) / CONFIG_FILE
    tmp = path.with_suffix(".tmp")
    tmp.touch(mode=0o600)
    tmp.write_text("# Rendered by `python run.py monitoring up` from configs/monitoring.yaml (alerts:).\n"
                   + yaml.safe_dump(alertmanager_config(alerts), sort_keys=False))
    tmp.replace(path)
    return path


def describe_receiver(alerts: AlertsSection) -> str:
    """Where alerts go, for the CLI (the URL's host only: the path of a Slack URL is its secret)."""
    if not alerts.webhook_url:
        return "not delivered: set alerts.webhook_url in configs/monitoring.yaml (kept in Alertmanager's UI)"
    from urllib.parse import urlparse

    return f"{alerts.format} JSON to {urlparse(alerts.webhook_url).netloc} (alerts.webhook_url)"
