#!/usr/bin/env bash
# System packages for serving: nginx (local ingress that keeps the stable URL across blue/green redeploys)
# and wrk (load generator for bench/serving.py). Idempotent and non-interactive.
set -euo pipefail
source "$(dirname "$0")/apt.sh"
missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
apt_install "${missing[@]}"
