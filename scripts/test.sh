#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what it needs (npm packages; Docker for the
# container tests; chromium for the dashboard's browser test; kubectl for the manifest tests), then typecheck + vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
# The dashboard's browser test drives Debian's chromium (playwright-core never downloads a browser).
bash scripts/apt-tool.sh "${GRADFLEET_CHROMIUM:-/usr/bin/chromium}" chromium || echo "test.sh: chromium could not be installed; the browser test will fail in CI and be skipped elsewhere" >&2
# The manifest tests render deploy/k8s with kubectl's kustomize (a client only: no cluster).
bash scripts/apt-tool.sh kubectl kubectl || echo "test.sh: kubectl could not be installed; the manifest tests will be skipped" >&2
# Container tests need a Docker daemon; without one they are skipped and say why.
bash scripts/docker-setup.sh || echo "test.sh: no Docker daemon could be started; container tests will be skipped" >&2
export TESTCONTAINERS_RYUK_DISABLED=true
npx tsc --noEmit
exec npx vitest run "$@"
