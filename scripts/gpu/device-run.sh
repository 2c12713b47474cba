#!/bin/bash
# GPU-machine side of the check of gradfleet's own training graphs (device call 2, see README.md):
#   bash scripts/gpu/device-run.sh
# 1. copies the kit parts carried in this call (every .gpu-kit/p<N> in the tree, or KIT_PARTS) into
#    KIT_DIR (/tmp/kit-p), where call 1 left p1;
# 2. runs the kit's own check (run.sh: unpack, find CUDA 13 + Vulkan, check.mjs on the kit's graphs);
# 3. runs ours/check-ours.mjs (gradfleet's compiled graphs, staged in p2 by stage.sh) with the kit's
#    Node, onnxruntime-node and library path, set up exactly as run.sh does;
# 4. runs the cluster scaling run, cluster/run-cluster.sh (bundled coordinator + N workers, staged in p2
#    by stage.sh through cluster/build.sh), with the same Node command (the NODE array below).
# $OUT receives env.txt, check.log, gpu-check.json (kit), ours.json, ours.log (ours) and cluster.json,
# cluster.md, cluster.log, cluster-logs/ (cluster).
# Env: KIT_DIR, KIT_PARTS, KIT_CHECK_ARGS (default "--time 1.5"), OURS_ARGS (default
# "--providers cpu,cuda,cpu1 --time 3"), OURS_DEADLINE (s, default 150), SKIP_KIT_CHECK=1,
# ONLY_CLUSTER=1 (unpack, a short CPU-only kit check, then only the cluster run), SKIP_CLUSTER=1,
# run-cluster.mjs's CLUSTER_* (CLUSTER_DEADLINE, default 150 s), and run.sh's own KIT_LOADER / KIT_CUDA_LIBS.
# Exit: ours' exit code, or when that is 0 (or with ONLY_CLUSTER=1) the cluster run's.
set -uo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
K=${KIT_DIR:-/tmp/kit-p}
export OUT=${OUT:-$K/out}
mkdir -p "$K" "$OUT"
T0=$SECONDS
stamp() { echo "=== [$((SECONDS - T0)) s] $*"; }

# 1. Parts into the kit folder (cp -r keeps what an earlier call put there).
read -r -a PARTS <<< "${KIT_PARTS:-$(ls -d "$REPO"/.gpu-kit/p[0-9]* 2>/dev/null | sort -V | tr '\n' ' ')}"
for d in "${PARTS[@]}"; do stamp "copying $d -> $K" && cp -r "$d/." "$K/" || { echo "COPY FAILED: $d"; exit 4; }; done
[ -e "$K/run.sh" ] || { echo "NO KIT in $K: carry .gpu-kit/p2 (parts: ${PARTS[*]:-none})"; exit 3; }
ONLY_CLUSTER=${ONLY_CLUSTER:-0}
if [ "$ONLY_CLUSTER" = 1 ]; then
  SKIP_KIT_CHECK=1
  [ -d "$K/cluster" ] || { echo "NO cluster/ in $K: run scripts/gpu/stage.sh (or scripts/gpu/cluster/build.sh) after pack.sh, then carry .gpu-kit/p2"; exit 3; }
else
  [ -d "$K/ours" ] || { echo "NO ours/ in $K: run scripts/gpu/stage.sh after pack.sh, then carry .gpu-kit/p2"; exit 3; }
fi

# 2. The kit's own check. Exit 3: a part is missing (the machine forgot call 1); 5: noexec folder.
# timeout signals run.sh's whole process group, node included.
kit_check() {
  stamp "kit check: $1/run.sh ${KIT_CHECK_ARGS:---time 1.5}"
  # shellcheck disable=SC2086
  timeout -k 10 "${KIT_CHECK_TIMEOUT:-180}" bash "$1/run.sh" ${KIT_CHECK_ARGS:---time 1.5}
}
if [ "${SKIP_KIT_CHECK:-0}" = 1 ]; then
  # run.sh always runs check.mjs after unpacking: make that a short CPU-only run.
  KIT_CHECK_ARGS="--quick --providers cpu" kit_check "$K"; rc=$?
else
  kit_check "$K"; rc=$?
fi
if [ "$rc" = 5 ]; then   # the carried Node cannot run from $K: move the whole kit to a folder that allows exec
  for alt in "$HOME/kit-p" /var/tmp/kit-p /dev/shm/kit-p; do
    mkdir -p "$alt" && cp -r "$K/." "$alt/" && K=$alt && stamp "retrying from $K" && { kit_check "$K"; rc=$?; }
    [ "$rc" = 5 ] || break
  done
fi
stamp "kit check exit $rc"
[ "$rc" = 3 ] && { echo "KIT INCOMPLETE: call 2 must follow call 1 on the same warm machine; run both calls again"; exit 3; }
[ -e "$K/.unpacked" ] || { echo "KIT NOT UNPACKED (run.sh exit $rc): our check cannot run"; exit 4; }

# 3. Our graphs, with the library setup of run.sh (kept in step with it: same order, same finds).
ORT=$K/node_modules/onnxruntime-node/bin/napi-v6/linux/x64
CUDA=${KIT_CUDA_LIBS:-$(find /opt/torch/.venv -path '*nvidia*' -name lib -type d 2>/dev/null | sort | paste -sd:)}
DRV=$(find /usr/local/nvidia /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib -maxdepth 2 -name libcuda.so.1 2>/dev/null | head -1)
LIBS=$(echo "$ORT:$K/vk:$CUDA:${DRV%/*}:${LD_LIBRARY_PATH:-}" | tr -s : | sed 's/^://; s/:$//')
RT=$K/rt
chmod +x "$RT"/* 2>/dev/null
if [ "${KIT_LOADER:-kit}" = kit ] && "$RT/ld-linux-x86-64.so.2" --library-path "$RT" "$K/bin/node" -e 0 2>/dev/null; then
  LOADER=kit NODE=("$RT/ld-linux-x86-64.so.2" --library-path "$RT:$LIBS" "$K/bin/node")
else
  LOADER=host NODE=("$K/bin/node") && chmod +x "$K/bin/node" && export LD_LIBRARY_PATH=$LIBS
fi
rc_ours=skipped
if [ "$ONLY_CLUSTER" != 1 ]; then
  # shellcheck disable=SC2206
  ARGS=(${OURS_ARGS:---providers cpu,cuda,cpu1 --time 3})
  DEADLINE=${OURS_DEADLINE:-150}
  stamp "our graphs: loader $LOADER, check-ours.mjs ${ARGS[*]} --deadline $DEADLINE"
  KIT_INFO="loader=$LOADER libcuda=${DRV:-none} cuda=${CUDA:-none}" timeout -k 10 $((DEADLINE + 30)) \
    "${NODE[@]}" "$K/ours/check-ours.mjs" --graphs "$K/ours" --ort "$K/node_modules/onnxruntime-node" --deadline "$DEADLINE" "${ARGS[@]}" 2>&1 | tee "$OUT/ours.log"
  rc_ours=${PIPESTATUS[0]}
fi

# 4. The cluster scaling run: every coordinator and worker process starts with "${NODE[@]}" (run-cluster.sh
#    stops itself at CLUSTER_DEADLINE + 60 s and writes what it measured before).
rc_cluster=skipped
if [ "${SKIP_CLUSTER:-0}" = 1 ]; then
  :
elif [ -d "$K/cluster" ]; then
  stamp "cluster scaling run: loader $LOADER, deadline ${CLUSTER_DEADLINE:-150} s"
  bash "$K/cluster/run-cluster.sh" "${NODE[@]}"
  rc_cluster=$?
else
  echo "no cluster/ in $K (stage.sh with STAGE_CLUSTER=0?): cluster run skipped"
fi
stamp "done: kit check exit $rc, our check exit $rc_ours, cluster run exit $rc_cluster; results in $OUT"
[ "$rc_ours" = skipped ] || [ "$rc_ours" = 0 ] || exit "$rc_ours"
[ "$rc_cluster" = skipped ] && exit 0
exit "$rc_cluster"
