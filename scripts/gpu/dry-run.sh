#!/bin/bash
# Local rehearsal of the two device calls, on the CPU, after pack.sh and stage.sh:
#  a. call 2 on a machine that lost call 1's part must stop with KIT INCOMPLETE (exit 3);
#  b. call 1 (p1 into the kit folder) then call 2 (device-run.sh carrying p2) in a bare environment,
#     with the mode bits dropped: the kit's check and ours run on the CPU, CUDA is reported UNAVAILABLE
#     (exit 1), never a crash;
#  c. ours again, CPU only (exit 0), and the CPU outputs of b and c must be bit-identical (digests).
#   bash scripts/gpu/dry-run.sh      (KEEP=1 keeps the temp folder)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KIT=$REPO/.gpu-kit T=$(mktemp -d)
[ -d "$KIT/p2/ours" ] || { echo "no $KIT/p2/ours: run pack.sh, then scripts/gpu/stage.sh" >&2; exit 2; }
bare() { env -i PATH=/usr/bin:/bin HOME="$T/home" "$@"; }
mkdir -p "$T/home"

echo "=== a. call 2 without call 1"
rc=0; bare OUT="$T/out-a" KIT_DIR="$T/kit-a" KIT_PARTS="$KIT/p2" bash "$REPO/scripts/gpu/device-run.sh" > "$T/a.log" 2>&1 || rc=$?
tail -2 "$T/a.log"
[ "$rc" = 3 ] || { echo "FAIL: expected exit 3 for a kit without p1, got $rc (log $T/a.log)"; exit 1; }

echo "=== b. call 1 + call 2, CUDA asked for"
mkdir -p "$T/kit" && cp -r "$KIT/p1/." "$T/kit/" && chmod -R a-x+X "$T/kit"
cp -r "$KIT/p2" "$T/p2" && chmod -R a-x+X "$T/p2"   # as if the transfer had dropped the mode bits
rc=0; bare OUT="$T/out-b" KIT_DIR="$T/kit" KIT_PARTS="$T/p2" KIT_CHECK_ARGS=--quick OURS_ARGS="--providers cpu,cuda,cpu1 --quick" OURS_DEADLINE=120 \
  bash "$REPO/scripts/gpu/device-run.sh" > "$T/b.log" 2>&1 || rc=$?
grep -E '^=== |VERDICT|"(cpu|cuda|cpu1|webgpu)"' "$T/b.log" | cut -c1-220
[ "$rc" = 1 ] || { echo "FAIL: expected exit 1 (CUDA unavailable here), got $rc (log $T/b.log)"; exit 1; }
ls "$T/out-b"

echo "=== c. ours again, CPU only"
rc=0; bare OUT="$T/out-c" KIT_DIR="$T/kit" KIT_PARTS=" " SKIP_KIT_CHECK=1 OURS_ARGS="--providers cpu --quick" \
  bash "$REPO/scripts/gpu/device-run.sh" > "$T/c.log" 2>&1 || rc=$?
grep -E '^=== |"cpu"' "$T/c.log" | cut -c1-200
[ "$rc" = 0 ] || { echo "FAIL: expected exit 0 for a CPU-only run, got $rc (log $T/c.log)"; exit 1; }

node - "$T/out-b/ours.json" "$T/out-c/ours.json" <<'JS'
const [b, c] = process.argv.slice(2).map((f) => require(f));
if (!/^UNAVAILABLE/.test(b.verdict.cuda ?? '')) { console.log(`FAIL: cuda verdict ${b.verdict.cuda}`); process.exit(1); }
const digests = (r) => r.graphs.flatMap((g) => g.runs.map((x) => `${g.name}@${x.batch} ${x.cpu?.digest}`));
const [db, dc] = [digests(b), digests(c)];
const same = db.length > 0 && db.length === dc.length && db.every((d, i) => d === dc[i] && !d.endsWith('undefined'));
console.log(`cpu digests, two processes: ${same ? 'IDENTICAL' : 'DIFFER'}\n  ${db.join('\n  ')}${same ? '' : `\n vs\n  ${dc.join('\n  ')}`}`);
process.exit(same ? 0 : 1);
JS
echo "dry run PASSED (logs in $T)"
[ -n "${KEEP:-}" ] || rm -rf "$T"
