"""Monitoring assets and plain helpers: Prometheus config, alert rules, Grafana dashboard, a local Prometheus +
Pushgateway runner (`monitoring.local`) and the push of batch monitoring results (`monitoring.push`).

No ZenML import here: steps and the CLI call these functions.
"""

from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent
PROMETHEUS_CONFIG = ASSETS_DIR / "prometheus.yml"
ALERT_RULES = ASSETS_DIR / "alerts.yml"
ALERT_RULES_TESTS = ASSETS_DIR / "alerts_test.yml"
GRAFANA_DASHBOARD = ASSETS_DIR / "grafana" / "mlops-dashboard.json"
