#!/bin/bash
# The cluster scaling run on the GPU machine (scripts/gpu/README.md, "Cluster scaling run"); staged
# by build.sh into .gpu-kit/p2/cluster/ next to the bundles, the digits and the job files.
#   bash run-cluster.sh NODE_COMMAND...      e.g. device-run.sh: bash "$K/cluster/run-cluster.sh" "${NODE[@]}"
# NODE_COMMAND starts the kit's Node (its loader, library path and binary); every coordinator and
# worker process is started with it (and --initial-heap-size=256). Without it: `node` from PATH.
# Writes $OUT/cluster.json, $OUT/cluster.md, $OUT/cluster.log and $OUT/cluster-logs/<case>/; knobs
# (CLUSTER_*) in run-cluster.mjs. A hard limit of CLUSTER_DEADLINE + 60 s stops it whatever happens.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export OUT=${OUT:-$HERE/out}
mkdir -p "$OUT"
[ $# -gt 0 ] || set -- node
CLUSTER_NODE=$(printf '%s\n' "$@") timeout -k 10 $((${CLUSTER_DEADLINE:-150} + 60)) \
  "$@" "$HERE/run-cluster.mjs" 2>&1 | tee "$OUT/cluster.log"
exit "${PIPESTATUS[0]}"
