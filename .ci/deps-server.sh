#!/usr/bin/env bash
# System packages for the server stack and the dashboard test: PostgreSQL server binaries (MLflow's backend store;
# the project runs its own cluster under the run-state directory, never the Debian service), and headless
# Chromium with its WebDriver (tests/stacks/test_dashboard.py). Idempotent and non-interactive.
set -euo pipefail

need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
fc-list 2>/dev/null | grep -qi liberation || need+=(fonts-liberation)

if [ ${#need[@]} -eq 0 ]; then
    echo "deps-server: postgresql, chromium, chromium-driver and fonts already installed"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
# Keep the postgresql package from starting its system cluster: the server stack runs its own on 127.0.0.1.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get update -q
$SUDO apt-get install -y --no-install-recommends "${need[@]}"
ls /usr/lib/postgresql/*/bin/postgres
chromium --version
