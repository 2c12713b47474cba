// GPU check of gradfleet's own compiled training graphs (made by make-graphs.ts): runs each graph
// on onnxruntime-node's CPU provider and on CUDA with the worker's session options
// ([{ name: 'cuda' }, 'cpu'], graphOptimizationLevel 'all', as shared/engine/cuda.ts), compares
// every output with the CPU's, checks that a second run gives the same bits, measures samples/s,
// and reads node placement from an ORT profile. Plain JS with no project imports, so that the GPU
// kit's own Node 20 runs it on a machine without the repository's node_modules.
//
// Usage: node check-ours.mjs [--graphs DIR] [--ort DIR] [--providers cpu,cuda,cpu1] [--time 3]
//                            [--batches 128,512] [--cpu-threads 0] [--deadline 0] [--quick]
//   --graphs  folder with <name>.onnx + <name>.json manifests (default: this script's folder)
//   --ort     the onnxruntime-node package folder (or env ORT_NODE_PATH); default: resolved from
//             this script's folder upwards (the kit unpacks node_modules/ next to ours/)
//   --providers  cpu: the reference, ORT's default threads (or --cpu-threads N); cuda: the worker's
//             CUDA session; cpu1: the worker's CPU device (1 intra-op thread, shared/engine/cpu.ts)
//   --cpu-threads  intra-op threads of the cpu session; 0 (default) = ORT's default (all cores)
//   --deadline  seconds after which it stops, keeping the report so far with a STOPPED verdict (0: none)
// Writes $OUT/ours.json (or ./ours.json) after every measurement, so a crash keeps what came before;
// prints a table and a VERDICT line. Exit 0 when every provider asked for passed, 1 otherwise.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const { values: opt } = parseArgs({ options: {
  graphs: { type: 'string', default: HERE },
  ort: { type: 'string', default: process.env.ORT_NODE_PATH ?? '' },
  providers: { type: 'string', default: 'cpu,cuda' },
  time: { type: 'string', default: '3' },
  batches: { type: 'string' },
  'cpu-threads': { type: 'string', default: '0' },
  deadline: { type: 'string', default: '0' },
  quick: { type: 'boolean', default: false },   // small batches, short timings (local dry run)
} });

// Error tolerance, as the kit's check.mjs: max |out − cpu| / max |cpu| per output. cuBLAS with TF32
// (ORT's CUDA default) gives a few 1e-3; a wrong kernel gives O(1).
const TOLERANCE = 1e-2;
// argmax may flip where two logits are within rounding of each other: allow 1% of the batch.
const correctSlack = (batch) => Math.max(1, Math.ceil(0.01 * batch));
// A CPU node of a CUDA session that reads or writes a tensor this large is real compute that fell
// back to the CPU; smaller ones are shape arithmetic (Shape, Gather, Cast, Size, ...) kept there by design.
const HEAVY_ELEMENTS = 4096;
const EP_NAMES = { cpu: 'CPUExecutionProvider', cpu1: 'CPUExecutionProvider', cuda: 'CUDAExecutionProvider' };
const isAccelerator = (p) => EP_NAMES[p] !== EP_NAMES.cpu;

const log = (...a) => console.error(...a);
const outFile = path.join(process.env.OUT || '.', 'ours.json');
const report = {
  started: new Date().toISOString(), node: process.version, platform: `${process.platform}-${process.arch}`, cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model ?? null, kit: process.env.KIT_INFO ?? null, options: opt, tolerance: TOLERANCE,
  ort: null, providers: {}, graphs: [], verdict: {},
};
const save = () => fs.writeFileSync(outFile, `${JSON.stringify(report, null, 1)}\n`);
const errText = (e) => String(e?.message ?? e);

// onnxruntime-node: --ort / ORT_NODE_PATH, else node_modules above this script, else above the cwd.
function loadOrt() {
  const tries = opt.ort ? [path.resolve(opt.ort)] : [];
  for (const base of [HERE, process.cwd()]) {
    try { tries.push(path.dirname(createRequire(path.join(base, 'x.js')).resolve('onnxruntime-node/package.json'))); } catch { /* not there */ }
  }
  if (!tries.length) throw new Error(`onnxruntime-node not found: pass --ort DIR or set ORT_NODE_PATH (looked above ${HERE} and ${process.cwd()})`);
  const dir = tries[0];
  return { ort: createRequire(path.join(dir, 'x.js'))(dir), dir };
}
let ort, ortDir;
try { ({ ort, dir: ortDir } = loadOrt()); } catch (e) {
  report.verdict.all = `FAILED: cannot load onnxruntime-node: ${errText(e)}`;
  save();
  console.log(`VERDICT ${JSON.stringify(report.verdict)}`);
  process.exit(1);
}
const ortBin = path.join(ortDir, 'bin/napi-v6', process.platform, process.arch);
report.ort = { dir: ortDir, versions: ort.env.versions, backends: ort.listSupportedBackends?.().map((b) => b.name) ?? [],
  cudaProviderLibrary: fs.existsSync(path.join(ortBin, 'libonnxruntime_providers_cuda.so')) };

// ---- deterministic feeds -------------------------------------------------------------------------
// mulberry32, the kit's generator: the same numbers on every machine and provider.
function rng(seed) {
  return () => { seed = (seed + 0x6d2b79f5) | 0; let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t; return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
}
// Input k of a graph draws from its own stream, so adding an input or a batch size moves nothing else.
const streamSeed = (seed, k) => (Math.imul(seed, 0x9e3779b1) ^ Math.imul(k + 1, 0x85ebca6b)) | 0;

function makeFeed(input, k, seed, batch) {
  const dims = input.shape.map((d) => (typeof d === 'number' ? d : batch));
  const n = dims.reduce((a, b) => a * b, 1), rand = rng(streamSeed(seed, k)), f = input.fill;
  if (input.dtype === 'int64') {
    if (f.dist !== 'classes') throw new Error(`input '${input.name}': int64 inputs need fill 'classes', got '${f.dist}'`);
    const a = new BigInt64Array(n);
    for (let i = 0; i < n; i++) a[i] = BigInt(Math.floor(rand() * f.classes));
    return new ort.Tensor('int64', a, dims);
  }
  const a = new Float32Array(n);
  if (f.dist === 'uniform') for (let i = 0; i < n; i++) a[i] = f.low + (f.high - f.low) * rand();
  else if (f.dist === 'bernoulli') for (let i = 0; i < n; i++) a[i] = rand() < f.p1 ? 1 : 0;
  else throw new Error(`input '${input.name}': float inputs need fill 'uniform' or 'bernoulli', got '${f.dist}'`);
  return new ort.Tensor('float32', a, dims);
}
const makeFeeds = (m, batch) => Object.fromEntries(m.inputs.map((input, k) => [input.name, makeFeed(input, k, m.seed, batch)]));

// ---- sessions, placement, timing -------------------------------------------------------------------
const cpuThreads = Number(opt['cpu-threads']);
function sessionOptions(p) {
  if (p === 'cpu') return { executionProviders: ['cpu'], graphOptimizationLevel: 'all', ...(cpuThreads > 0 ? { intraOpNumThreads: cpuThreads } : {}) };
  if (p === 'cpu1') return { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' };
  if (p === 'cuda') return { executionProviders: [{ name: 'cuda', deviceId: 0 }, 'cpu'], graphOptimizationLevel: 'all' };
  throw new Error(`unknown provider '${p}' (cpu, cpu1 or cuda)`);
}

// ORT's error for a provider that cannot load is terse; dlopen the pieces for the real reason.
function diagnoseCuda() {
  const libs = [path.join(ortBin, 'libonnxruntime_providers_shared.so'), path.join(ortBin, 'libonnxruntime_providers_cuda.so'),
    'libcuda.so.1', 'libcudart.so.13', 'libcublas.so.13', 'libcublasLt.so.13', 'libcufft.so.12', 'libcurand.so.10', 'libcudnn.so.9'];
  const { RTLD_NOW, RTLD_GLOBAL } = os.constants.dlopen;
  return Object.fromEntries(libs.map((lib) => {
    if (lib.startsWith('/') && !fs.existsSync(lib)) return [path.basename(lib), 'MISSING FILE'];
    try { process.dlopen({ exports: {} }, lib, RTLD_NOW | RTLD_GLOBAL); return [path.basename(lib), 'loads']; } catch (e) {
      return [path.basename(lib), /self-register|module did not/i.test(e.message) ? 'loads' : e.message.split('\n')[0]];
    }
  }));
}

const elements = (shapes) => Math.max(0, ...(shapes ?? []).map((s) => Object.values(s)[0]).filter(Array.isArray).map((d) => d.reduce((a, b) => a * b, 1)));

// Which provider ran each node, from an ORT profile of one run (after a warm-up run).
async function placement(modelPath, p, feeds) {
  const prefix = path.join(os.tmpdir(), `ours_prof_${p}_${process.pid}_${Date.now()}`);
  const s = await ort.InferenceSession.create(modelPath, { ...sessionOptions(p), enableProfiling: true, profileFilePrefix: prefix });
  try {
    await s.run(feeds);
    s.endProfiling();
  } finally { await s.release?.(); }
  const dir = path.dirname(prefix), files = fs.readdirSync(dir).filter((f) => path.join(dir, f).startsWith(prefix));
  if (!files.length) throw new Error(`no profile file ${prefix}*`);
  const events = files.flatMap((f) => { const t = fs.readFileSync(path.join(dir, f), 'utf8'); fs.rmSync(path.join(dir, f)); return JSON.parse(t); });
  const nodesByProvider = {}, cpuOps = {}, heavyCpu = [];
  let memcpy = 0;
  for (const e of events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'))) {
    const { provider, op_name: op } = e.args;
    if (op.startsWith('Memcpy')) { memcpy++; continue; }
    nodesByProvider[provider] = (nodesByProvider[provider] ?? 0) + 1;
    if (!isAccelerator(p) || provider !== EP_NAMES.cpu) continue;
    cpuOps[op] = (cpuOps[op] ?? 0) + 1;
    const size = Math.max(elements(e.args.input_type_shape), elements(e.args.output_type_shape));
    if (size >= HEAVY_ELEMENTS) heavyCpu.push(`${e.name.replace(/_kernel_time$/, '')} (${op}, ${size} elements)`);
  }
  return { nodesByProvider, cpuOps, memcpyNodes: memcpy, heavyCpu };
}

async function timed(s, feeds, batch, seconds) {
  for (let i = 0; i < 3; i++) await s.run(feeds);   // warm-up: CUDA allocations, cuDNN algorithm search
  let iters = 0;
  const t0 = performance.now();
  while (iters < 3 || (performance.now() - t0 < seconds * 1000 && iters < 5000)) { await s.run(feeds); iters++; }
  const sec = (performance.now() - t0) / 1000;
  return { samplesPerSec: Math.round((batch * iters) / sec), msPerStep: +((1000 * sec) / iters).toFixed(3), iters };
}

// ---- comparison -----------------------------------------------------------------------------------
const asNumbers = (t) => (t.type === 'int64' ? Float64Array.from(t.data, Number) : t.data);

/** Per output: max |a − b|, that over max |ref| (max-normalised), and the relative L2 error. NaN counts as Infinity. */
function diff(out, ref) {
  const a = asNumbers(out), b = asNumbers(ref);
  if (a.length !== b.length) return { maxAbs: Infinity, maxRel: Infinity, l2Rel: Infinity, note: `length ${a.length} vs ${b.length}` };
  let maxAbs = 0, maxRef = 0, d2 = 0, r2 = 0;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    maxAbs = Math.max(maxAbs, Number.isNaN(d) ? Infinity : d); maxRef = Math.max(maxRef, Math.abs(b[i]));
    d2 += d * d; r2 += b[i] * b[i];
  }
  const r = (x) => (Number.isFinite(x) ? +x.toExponential(2) : x);
  return { maxAbs: r(maxAbs), maxRel: r(maxAbs / (maxRef || 1)), l2Rel: r(Math.sqrt(d2 / (r2 || 1))) };
}
const bitsEqual = (x, y) => Buffer.compare(Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength), Buffer.from(y.data.buffer, y.data.byteOffset, y.data.byteLength)) === 0;

/** FNV-1a over every output's bytes, in output order: equal digests = bit-identical results (compares runs across processes). */
function digest(outputs, names) {
  let h = 0x811c9dc5;
  for (const n of names) {
    const d = outputs[n].data, bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** Every output against the CPU's; `correct` may differ by a few argmax flips, everything else by TOLERANCE. */
function compareAll(m, out, ref, batch) {
  const roles = Object.fromEntries(m.outputs.map((o) => [o.name, o.role]));
  const perOutput = {}, problems = [];
  let worst = null;
  for (const name of Object.keys(ref)) {
    if (!out[name]) { problems.push(`${name} missing`); continue; }
    const d = diff(out[name], ref[name]);
    perOutput[name] = d;
    if (roles[name] === 'correct') {
      if (!(d.maxAbs <= correctSlack(batch))) problems.push(`${name} differs by ${d.maxAbs} (> ${correctSlack(batch)} of ${batch})`);
      continue;
    }
    if (!(d.maxRel < TOLERANCE)) problems.push(`${name} maxRel ${d.maxRel}`);
    if (!worst || !(d.maxRel <= worst.maxRel)) worst = { output: name, ...d };
  }
  return { worst, problems, perOutput };
}

// ---- main -----------------------------------------------------------------------------------------
const seconds = opt.quick ? 0.3 : Number(opt.time);
const providers = opt.providers.split(',').filter(Boolean).sort((a, b) => (b === 'cpu') - (a === 'cpu'));   // cpu first: the reference
if (providers[0] !== 'cpu') providers.unshift('cpu');
const manifests = fs.readdirSync(opt.graphs).filter((f) => f.endsWith('.json')).sort()
  .map((f) => JSON.parse(fs.readFileSync(path.join(opt.graphs, f), 'utf8'))).filter((m) => m.version === 1 && m.model && m.inputs);
if (!manifests.length) { log(`no graph manifests (*.json with version 1) in ${opt.graphs}`); process.exit(2); }
log(`onnxruntime-node ${ort.env.versions?.node ?? '?'} from ${ortDir}; providers ${providers.join(',')}; ${manifests.length} graphs; ${seconds} s per timing`);
const deadline = Number(opt.deadline);
// Session runs are async (ORT's thread pool), so this timer fires even while a run hangs.
if (deadline > 0) setTimeout(() => finish(`STOPPED: --deadline ${deadline} s reached; the report holds what was measured before`), deadline * 1000).unref();

async function checkGraph(m) {
  const modelPath = path.join(opt.graphs, m.model);
  const batches = opt.batches ? opt.batches.split(',').map(Number) : opt.quick ? [32, 64] : m.batches;
  const outputNames = m.outputs.map((o) => o.name);
  const entry = { name: m.name, model: m.model, description: m.description, ops: m.ops, placement: {}, runs: batches.map((batch) => ({ batch })) };
  report.graphs.push(entry);
  const feeds = batches.map((b) => makeFeeds(m, b));
  const cpuRef = [];
  for (const p of providers) {
    let s;
    const t0 = performance.now();
    try {
      s = await ort.InferenceSession.create(modelPath, sessionOptions(p));
      report.providers[p] ??= { sessionCreated: true };
    } catch (e) {
      const known = report.providers[p]?.libraries;
      report.providers[p] = { sessionCreated: false, error: errText(e), libraries: p === 'cuda' ? (known ?? diagnoseCuda()) : undefined };
      log(`[${m.name}] ${p}: session creation FAILED: ${report.providers[p].error.split('\n')[0]}`);
      if (report.providers[p].libraries && !known) log(`  libraries: ${JSON.stringify(report.providers[p].libraries)}`);
      save();
      continue;
    }
    const sessionMs = +(performance.now() - t0).toFixed(1);
    for (const [i, batch] of batches.entries()) {
      const run = (entry.runs[i][p] = { sessionMs });
      try {
        const t1 = performance.now();
        const first = await s.run(feeds[i]);
        run.firstRunMs = +(performance.now() - t1).toFixed(1);
        const second = await s.run(feeds[i]);
        const unstable = outputNames.filter((n) => !bitsEqual(first[n], second[n]));
        run.repeatable = unstable.length === 0;
        if (unstable.length) run.unstable = Object.fromEntries(unstable.map((n) => [n, diff(second[n], first[n]).maxRel]));
        run.digest = digest(first, outputNames);
        run.loss = Number(first[m.outputs.find((o) => o.role === 'loss').name].data[0]);
        if (p === 'cpu') cpuRef[i] = first;
        else if (cpuRef[i]) run.vsCpu = compareAll(m, first, cpuRef[i], batch);
        Object.assign(run, await timed(s, feeds[i], batch, seconds));
        log(`[${m.name}] ${p.padEnd(4)} batch ${String(batch).padStart(5)}: ${String(run.samplesPerSec).padStart(9)} samples/s ${String(run.msPerStep).padStart(8)} ms/step` +
          `  loss ${run.loss.toPrecision(6)}  repeatable ${run.repeatable}${run.vsCpu ? `  worst vs cpu ${run.vsCpu.worst?.maxRel} (${run.vsCpu.worst?.output})` : ''}`);
      } catch (e) {
        run.error = errText(e);
        log(`[${m.name}] ${p} batch ${batch}: run FAILED: ${run.error.split('\n')[0]}`);
      }
      save();
    }
    await s.release?.();
    if (p !== 'cpu' && !isAccelerator(p)) continue;   // cpu1 places exactly as cpu
    try {
      entry.placement[p] = await placement(modelPath, p, feeds.at(-1));
    } catch (e) { entry.placement[p] = { error: errText(e) }; }
    if (isAccelerator(p)) log(`[${m.name}] ${p} placement: ${JSON.stringify(entry.placement[p].nodesByProvider ?? entry.placement[p])}` +
      `${entry.placement[p].cpuOps ? ` cpu ops ${JSON.stringify(entry.placement[p].cpuOps)}` : ''}`);
    save();
  }
}

// ---- verdict: one line per provider ----------------------------------------------------------------
function verdicts() {
  const cpuProblems = report.graphs.flatMap((g) => g.runs.flatMap((r) => (r.cpu?.error ? [`${g.name} batch ${r.batch}: ${r.cpu.error.split('\n')[0]}`]
    : r.cpu && r.cpu.repeatable === false ? [`${g.name} batch ${r.batch}: not repeatable ${JSON.stringify(r.cpu.unstable)}`] : [])));
  report.verdict.cpu = report.providers.cpu?.sessionCreated === false ? `FAILED: ${report.providers.cpu.error.split('\n')[0]}`
    : cpuProblems.length ? `FAILED: ${cpuProblems.join('; ')}` : 'OK: every graph ran, outputs bit-repeatable';
  for (const p of providers.filter((p) => p !== 'cpu')) {
    const pr = report.providers[p];
    if (!pr?.sessionCreated) {
      const bad = Object.entries(pr?.libraries ?? {}).filter(([, v]) => v !== 'loads').map(([k, v]) => `${k}: ${v.replace(`${k}: `, '')}`);
      report.verdict[p] = `UNAVAILABLE: no ${p} session (${pr?.error?.split('\n')[0] ?? 'not tried'})${bad.length ? `; ${bad.join('; ')}` : ''}; cpu figures only`;
      continue;
    }
    const problems = [], notes = [];
    for (const g of report.graphs) {
      const pl = g.placement[p];
      if (pl?.error) problems.push(`PLACEMENT UNKNOWN: ${g.name}: ${pl.error.split('\n')[0]}`);
      else if (pl && (pl.heavyCpu.length || !pl.nodesByProvider[EP_NAMES[p]])) {
        problems.push(`FELL BACK TO CPU: ${g.name}: ${pl.heavyCpu.length ? `${pl.heavyCpu.length} nodes: ${pl.heavyCpu.slice(0, 8).join(', ')}` : JSON.stringify(pl.nodesByProvider)}`);
      }
      for (const r of g.runs) {
        const x = r[p];
        if (!x) continue;
        if (x.error) { problems.push(`FAILED: ${g.name} batch ${r.batch}: ${x.error.split('\n')[0]}`); continue; }
        if (x.vsCpu?.problems.length) problems.push(`WRONG RESULTS: ${g.name} batch ${r.batch}: ${x.vsCpu.problems.join(', ')}`);
        if (x.repeatable === false) notes.push(`${g.name}@${r.batch}`);
        if (r.cpu?.samplesPerSec && x.samplesPerSec) r[`${p}SpeedupVsCpu`] = +(x.samplesPerSec / r.cpu.samplesPerSec).toFixed(2);
      }
    }
    const speedups = report.graphs.map((g) => `${g.name} ${g.runs.at(-1)[`${p}SpeedupVsCpu`] ?? '-'}x`).join(', ');
    report.verdict[p] = problems.length ? problems.join('; ') : `OK: ${isAccelerator(p) ? `compute on ${EP_NAMES[p]}, ` : ''}every output within ${TOLERANCE} of cpu, ` +
      `speedup vs cpu at the largest batch: ${speedups}${notes.length ? `; NOT bit-repeatable run to run: ${notes.join(', ')}` : '; bit-repeatable'}`;
  }
}

/** Verdict lines, the JSON report, the table, then exit: 0 when every provider asked for passed. */
function finish(stopped) {
  verdicts();
  if (stopped) report.verdict.stopped = stopped;
  report.finished = new Date().toISOString();
  save();
  const rows = report.graphs.flatMap((g) => g.runs.map((r) => Object.fromEntries([['graph', g.name], ['batch', r.batch],
    ...providers.flatMap((p) => [[`${p} samples/s`, r[p]?.samplesPerSec ?? (r[p]?.error ? 'error' : '-')],
      ...(p === 'cpu' ? [] : [[`${p} x`, r[`${p}SpeedupVsCpu`] ?? '-'], [`${p} worst rel`, r[p]?.vsCpu?.worst?.maxRel ?? '-'],
        [`${p} worst output`, r[p]?.vsCpu?.worst?.output ?? '-'], [`${p} repeatable`, r[p]?.repeatable ?? '-']])])])));
  console.table(rows);
  console.log(`VERDICT ${JSON.stringify(report.verdict, null, 1)}\nfull report: ${outFile}`);
  process.exit(Object.values(report.verdict).every((v) => v.startsWith('OK')) ? 0 : 1);
}

for (const m of manifests) await checkGraph(m);
finish();
