#!/usr/bin/env bash
# Makes a headless browser available for the dashboard's browser test
# (test/observe/dashboard.browser.test.ts): Debian's chromium, installed with apt when
# /usr/bin/chromium (or $GRADFLEET_CHROMIUM) is missing. playwright-core drives it; no browser
# is ever downloaded from elsewhere. Idempotent.
set -euo pipefail

browser="${GRADFLEET_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$browser" ]; then
  exit 0
fi
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    echo "chromium-setup: need root to run: $*" >&2; exit 1
  fi
}
echo "chromium-setup: installing Debian's chromium for the browser test..." >&2
# Parallel apt runs (docker-setup.sh) wait for the lock instead of failing.
as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq >&2 || true
as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq chromium >&2
[ -x "$browser" ] || { echo "chromium-setup: $browser is still missing after the install" >&2; exit 1; }
