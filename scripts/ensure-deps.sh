#!/usr/bin/env bash
# Installs the npm dependencies when node_modules is missing or older than package-lock.json.
# onnxruntime-node's install script (CUDA binaries from a host many machines cannot reach) does not
# run: package.json's allowScripts denies it; the CPU provider is bundled. GPU nodes: README "GPU workers".
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.gradfleet-installed
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "gradfleet: installing npm dependencies (npm ci)..." >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
  touch "$stamp"
fi
