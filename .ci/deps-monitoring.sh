#!/usr/bin/env bash
# System binaries the monitoring tests run for real: prometheus + promtool, the pushgateway, and Alertmanager + amtool.
# Idempotent and non-interactive; the Debian packages' services are never started (no init here, and the
# project runs its own instances bound to 127.0.0.1 via `python run.py monitoring up`).
set -euo pipefail
source "$(dirname "$0")/apt.sh"

need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-pushgateway >/dev/null 2>&1 || need+=(prometheus-pushgateway)
command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v amtool >/dev/null 2>&1 || need+=(prometheus-alertmanager)

if [ ${#need[@]} -eq 0 ]; then
    echo "deps-monitoring: prometheus, promtool, pushgateway, alertmanager and amtool already installed"
    exit 0
fi

apt_install "${need[@]}"
prometheus --version | head -1
prometheus-pushgateway --version 2>&1 | head -1
prometheus-alertmanager --version 2>&1 | head -1
