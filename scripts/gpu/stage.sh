#!/bin/bash
# Stages gradfleet's compiled graphs and check-ours.mjs into the GPU kit's last part, .gpu-kit/p2/ours/,
# and the cluster scaling run into .gpu-kit/p2/cluster/ (cluster/build.sh), after
# `bash /work/shared/gpu/pack.sh` (which rebuilds p2, so run this again after every pack).
#   bash scripts/gpu/stage.sh            (from anywhere; the checkout is this script's ../..)
# Checks that every part stays under KIT_PART_MIB (56) MiB and that the largest part plus the
# working tree stays under the device tool's 64 MiB.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KIT=$REPO/.gpu-kit LAST=$REPO/.gpu-kit/p2 PART=$((${KIT_PART_MIB:-56} << 20))
[ -e "$LAST/run.sh" ] || { echo "no $LAST/run.sh: run 'bash /work/shared/gpu/pack.sh' from $REPO first" >&2; exit 2; }
rm -rf "$LAST/ours" && mkdir -p "$LAST/ours"
(cd "$REPO" && npx tsx scripts/gpu/make-graphs.ts "$LAST/ours" --batches "${OURS_BATCHES:-128,512}")
cp "$REPO/scripts/gpu/check-ours.mjs" "$LAST/ours/"
node --check "$LAST/ours/check-ours.mjs"
# The cluster scaling run (bundled coordinator and worker, digits, jobs) into $LAST/cluster/; STAGE_CLUSTER=0 leaves it out.
if [ "${STAGE_CLUSTER:-1}" = 1 ]; then bash "$REPO/scripts/gpu/cluster/build.sh" "$LAST/cluster"; else rm -rf "$LAST/cluster"; fi

tree=$(cd "$REPO" && { git ls-files; git ls-files --others --exclude-standard; } | sort -u | tr '\n' '\0' | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
status=0
for d in "$KIT"/p[0-9]*; do
  size=$(find "$d" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
  printf '  %-4s %6.1f MiB   + working tree %4.1f MiB = %5.1f MiB\n' "${d##*/}" "$(echo "$size/1048576" | bc -l)" "$(echo "$tree/1048576" | bc -l)" "$(echo "($size+$tree)/1048576" | bc -l)"
  (( size <= PART )) || { echo "  ${d##*/} is over $((PART >> 20)) MiB" >&2; status=1; }
  (( size + tree < 64 << 20 )) || { echo "  ${d##*/} with the working tree is over the device tool's 64 MiB" >&2; status=1; }
done
echo "staged: ours/ $(ls "$LAST/ours" | tr '\n' ' ')"
[ ! -d "$LAST/cluster" ] || echo "        cluster/ $(ls "$LAST/cluster" | tr '\n' ' ')"
exit $status
