#!/usr/bin/env bash
# Makes a command-line tool available, idempotently: does nothing when EXECUTABLE exists, else
# installs the Debian PACKAGE that provides it with apt.
#
#   bash scripts/apt-tool.sh /usr/bin/chromium chromium   # the dashboard's browser test (playwright-core drives it)
#   bash scripts/apt-tool.sh kubectl kubectl               # the manifest tests (kubectl kustomize, no cluster)
#
# EXECUTABLE is a path or a name looked up on PATH. Exits 1, naming it, when it is still missing.
set -euo pipefail

tool="$1"
package="$2"
present() { if [[ "$tool" == */* ]]; then [ -x "$tool" ]; else command -v "$tool" >/dev/null 2>&1; fi; }
present && exit 0
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    echo "apt-tool: need root to run: $*" >&2; exit 1
  fi
}
echo "apt-tool: installing Debian's $package (for $tool)..." >&2
# Parallel apt runs (docker-setup.sh) wait for the lock instead of failing.
as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq >&2 || true
as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq "$package" >&2
present || { echo "apt-tool: $tool is still missing after installing $package" >&2; exit 1; }
