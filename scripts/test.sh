#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what it needs, then typecheck + vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
npx tsc --noEmit
exec npx vitest run "$@"
