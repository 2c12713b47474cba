#!/bin/bash
# Local rehearsal of the two device calls, on the CPU, after pack.sh and stage.sh:
#  a. call 2 on a machine that lost call 1's part must stop with KIT INCOMPLETE (exit 3);
#  b. call 1 (p1 into the kit folder) then call 2 (device-run.sh carrying p2) in a bare environment,
#     with the mode bits dropped: the kit's check and ours run on the CPU, CUDA is reported UNAVAILABLE
#     (exit 1), never a crash;
#     The cluster scaling run rides along with small worker counts (CPU 1 and 2, CUDA 1, both models):
#     every case runs, the CUDA workers report FELL BACK TO CPU, the CPU cases end bit-identical;
#  c. ours again, CPU only (exit 0), and the CPU outputs of b and c must be bit-identical (digests);
#  d. ONLY_CLUSTER=1, one CPU case (exit 0): its final parameters must equal b's. The CPU hashes of b are
#     then written to .gpu-kit/p2/cluster/reference.json (CLUSTER_REFERENCE=0: not), so that the GPU
#     machine's run says whether it computed the same bits as this machine.
#   bash scripts/gpu/dry-run.sh      (KEEP=1 keeps the temp folder; ~3 min on 2 cores)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KIT=$REPO/.gpu-kit T=$(mktemp -d)
[ -d "$KIT/p2/ours" ] || { echo "no $KIT/p2/ours: run pack.sh, then scripts/gpu/stage.sh" >&2; exit 2; }
[ -d "$KIT/p2/cluster" ] || { echo "no $KIT/p2/cluster: run scripts/gpu/stage.sh" >&2; exit 2; }
rm -f "$KIT/p2/cluster/reference.json"   # b and d must not compare against an older rehearsal
bare() { env -i PATH=/usr/bin:/bin HOME="$T/home" "$@"; }
mkdir -p "$T/home"

echo "=== a. call 2 without call 1"
rc=0; bare OUT="$T/out-a" KIT_DIR="$T/kit-a" KIT_PARTS="$KIT/p2" bash "$REPO/scripts/gpu/device-run.sh" > "$T/a.log" 2>&1 || rc=$?
tail -2 "$T/a.log"
[ "$rc" = 3 ] || { echo "FAIL: expected exit 3 for a kit without p1, got $rc (log $T/a.log)"; exit 1; }

echo "=== b. call 1 + call 2, CUDA asked for"
mkdir -p "$T/kit" && cp -r "$KIT/p1/." "$T/kit/" && chmod -R a-x+X "$T/kit"
cp -r "$KIT/p2" "$T/p2" && chmod -R a-x+X "$T/p2"   # as if the transfer had dropped the mode bits
CLUSTER_SMALL=(CLUSTER_WORKERS=1,2 CLUSTER_CUDA_WORKERS=1 CLUSTER_DEADLINE=300 CLUSTER_CASE_TIMEOUT=90)
rc=0; bare OUT="$T/out-b" KIT_DIR="$T/kit" KIT_PARTS="$T/p2" KIT_CHECK_ARGS=--quick OURS_ARGS="--providers cpu,cuda,cpu1 --quick" OURS_DEADLINE=120 \
  "${CLUSTER_SMALL[@]}" bash "$REPO/scripts/gpu/device-run.sh" > "$T/b.log" 2>&1 || rc=$?
grep -E '^=== |VERDICT|"(cpu|cuda|cpu1|webgpu)"|^\[cluster|^\| |^  (mlp|cnn)' "$T/b.log" | cut -c1-260
[ "$rc" = 1 ] || { echo "FAIL: expected exit 1 (CUDA unavailable here), got $rc (log $T/b.log)"; exit 1; }
ls "$T/out-b"

echo "=== c. ours again, CPU only"
rc=0; bare OUT="$T/out-c" KIT_DIR="$T/kit" KIT_PARTS=" " SKIP_KIT_CHECK=1 SKIP_CLUSTER=1 OURS_ARGS="--providers cpu --quick" \
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

echo "=== d. the cluster run alone (ONLY_CLUSTER=1), one CPU case"
rc=0; bare OUT="$T/out-d" KIT_DIR="$T/kit" KIT_PARTS=" " ONLY_CLUSTER=1 CLUSTER_MODELS=mlp CLUSTER_WORKERS=1 CLUSTER_CUDA_WORKERS=none \
  bash "$REPO/scripts/gpu/device-run.sh" > "$T/d.log" 2>&1 || rc=$?
grep -E '^=== |^\[cluster|^  (mlp|cnn)' "$T/d.log" | cut -c1-220
[ "$rc" = 0 ] || { echo "FAIL: expected exit 0 for a CPU-only cluster run, got $rc (log $T/d.log)"; exit 1; }
[ ! -e "$T/out-d/ours.json" ] || { echo "FAIL: ONLY_CLUSTER=1 ran our graph check too"; exit 1; }

node - "$T/out-b/cluster.json" "$T/out-d/cluster.json" "$KIT/p2/cluster/reference.json" "${CLUSTER_REFERENCE:-1}" <<'JS'
const [fb, fd, refFile, writeRef] = process.argv.slice(2);
const [b, d] = [fb, fd].map((f) => require(f));
const fail = (m) => { console.log(`FAIL: ${m}`); process.exit(1); };
const planned = ['mlp', 'cnn'].flatMap((m) => [`${m}-cpu-1w`, `${m}-cpu-2w`, `${m}-cuda-1w`]);
const ids = b.cases.map((c) => c.id);
if (planned.some((id) => !ids.includes(id)) || b.skipped.length) fail(`cluster cases ran: ${ids.join(' ')}; skipped: ${b.skipped.join(' ')}`);
for (const c of b.cases) {
  if (c.device === 'cpu' && c.status !== 'ok') fail(`${c.id}: ${c.status}: ${c.problems.join('; ')}`);
  if (c.device === 'cuda' && c.status !== 'fell back') fail(`${c.id}: expected 'fell back' (no CUDA here), got ${c.status}: ${c.problems.join('; ')}`);
  if (!(c.samplesPerS > 0) || c.timedSteps < 10) fail(`${c.id}: ${c.samplesPerS} samples/s over ${c.timedSteps} steps`);
}
for (const [m, r] of Object.entries(b.models)) if (r.cpuBitIdentical !== true) fail(`${m}: CPU final params not identical over 1 and 2 workers: ${JSON.stringify(r.cpuSha256)}`);
if (d.cases.length !== 1 || d.cases[0].finalParamsSha256 !== b.models.mlp.cpuSha256) fail(`d's mlp params ${d.cases[0]?.finalParamsSha256} differ from b's ${b.models.mlp.cpuSha256}`);
console.log(`cluster: every case ran; cpu params identical over 1, 2 workers and two processes: ${Object.entries(b.models).map(([m, r]) => `${m} ${r.cpuSha256.slice(0, 16)}`).join(', ')}`);
if (writeRef === '1') {
  const machine = `dry run here: ${b.machine.cpus} × ${b.machine.cpuModel}, the kit's Node and onnxruntime-node`;
  const ref = Object.fromEntries(Object.entries(b.models).map(([m, r]) => [m, { sha256: r.cpuSha256, machine, when: b.when, steps: b.settings.jobs[m].max_steps }]));
  require('fs').writeFileSync(refFile, JSON.stringify(ref, null, 2) + '\n');
  console.log(`reference written: ${refFile}`);
}
JS
echo "dry run PASSED (logs in $T)"
[ -n "${KEEP:-}" ] || rm -rf "$T"
