#!/usr/bin/env bash
# System packages for the server stack and the dashboard test: PostgreSQL server binaries (MLflow's backend store;
# the project runs its own cluster under the run-state directory, never the Debian service), and headless
# Chromium with its WebDriver (tests/stacks/test_dashboard.py). Idempotent and non-interactive.
set -euo pipefail
source "$(dirname "$0")/apt.sh"

need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
fc-list 2>/dev/null | grep -qi liberation || need+=(fonts-liberation)

if [ ${#need[@]} -eq 0 ]; then
    echo "deps-server: postgresql, chromium, chromium-driver and fonts already installed"
    exit 0
fi

apt_install "${need[@]}"
ls /usr/lib/postgresql/*/bin/postgres
chromium --version
