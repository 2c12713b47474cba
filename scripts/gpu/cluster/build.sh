#!/bin/bash
# Builds the cluster scaling run's folder (scripts/gpu/README.md, "Cluster scaling run"), by default
# .gpu-kit/p2/cluster/ (stage.sh calls this; device call 2 carries it inside p2):
#   coordinator.mjs, worker.mjs  coordinator/cli.ts and worker/cli.ts bundled by esbuild (bundle.mjs), and
#   thread-entry.mjs             the worker's compute thread (worker/compute/thread.ts);
#                                onnxruntime-node stays external and resolves from the kit's node_modules
#   proto/                       grpc-health-check's .proto, read at start-up by the bundles
#   digits-*.gz, job-*.json      the bundled digits as IDX files and the two scaling jobs (make-inputs.ts)
#   run-cluster.sh, .mjs         the run itself, on the GPU machine
#   bash scripts/gpu/cluster/build.sh [DEST]     (from anywhere; ~10 s)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
SRC=$REPO/scripts/gpu/cluster
DEST=$(mkdir -p "${1:-$REPO/.gpu-kit/p2/cluster}" && cd "${1:-$REPO/.gpu-kit/p2/cluster}" && pwd)
rm -rf "${DEST:?}"/*
cd "$REPO"
echo "bundling into $DEST"
node "$SRC/bundle.mjs" "$DEST"
npx tsx "$SRC/make-inputs.ts" "$DEST" ${CLUSTER_STEPS_ARGS:-} 2> >(grep -v '^npm warn' >&2)
cp "$SRC/run-cluster.sh" "$SRC/run-cluster.mjs" "$DEST/"
for f in coordinator.mjs worker.mjs thread-entry.mjs run-cluster.mjs; do node --check "$DEST/$f"; done
# Both bundles start (onnxruntime-node resolves from the checkout's node_modules here).
node "$DEST/coordinator.mjs" start --help > /dev/null
node "$DEST/worker.mjs" start --help > /dev/null
echo "cluster/: $(du -sb "$DEST" | awk '{ printf "%.1f MiB", $1 / 1048576 }') ($(ls "$DEST" | tr '\n' ' '))"
