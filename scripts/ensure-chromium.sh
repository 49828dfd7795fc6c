#!/usr/bin/env bash
# Make sure the report tests have a headless browser: Debian's chromium at /usr/bin/chromium,
# and a CJK font so the Chinese labels render (screenshots are looked at). Idempotent and
# quiet: does nothing when both are there. Needs root (or sudo) only when it installs.
set -euo pipefail

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then
  need+=(fonts-wqy-microhei)
fi
[ ${#need[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
echo "ensure-chromium: installing ${need[*]}" >&2
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq "${need[@]}" >/dev/null
[ -x /usr/bin/chromium ] || { echo "ensure-chromium: /usr/bin/chromium still missing" >&2; exit 1; }
