#!/usr/bin/env bash
# The Debian packages the service tests need: Chromium (headless report tests) with a CJK font
# (the Chinese labels in screenshots), and PostgreSQL (the PostgreSQL source and history store).
# One `apt-get update`, one `apt-get install` of whatever is missing; nothing when all is there.
# Needs root (or sudo) only when it installs.
set -euo pipefail

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
fc-list :lang=zh 2>/dev/null | grep -q . || need+=(fonts-wqy-microhei)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
[ ${#need[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
echo "ensure-packages: installing ${need[*]}" >&2
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq "${need[@]}" >/dev/null
[ -x /usr/bin/chromium ] || { echo "ensure-packages: /usr/bin/chromium still missing" >&2; exit 1; }
