#!/usr/bin/env bash
# System binaries the monitoring tests run for real: prometheus + promtool, and the pushgateway.
# Idempotent and non-interactive; the Debian packages' services are never started (no init here, and the
# project runs its own instances bound to 127.0.0.1 via `python run.py monitoring up`).
set -euo pipefail

need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-pushgateway >/dev/null 2>&1 || need+=(prometheus-pushgateway)

if [ ${#need[@]} -eq 0 ]; then
    echo "deps-monitoring: prometheus, promtool and prometheus-pushgateway already installed"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
# Keep package maintainer scripts from starting the system services: we run our own instances.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get update -q
$SUDO apt-get install -y --no-install-recommends prometheus prometheus-pushgateway
prometheus --version | head -1
prometheus-pushgateway --version 2>&1 | head -1
