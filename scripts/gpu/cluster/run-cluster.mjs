// The cluster scaling run (scripts/gpu/README.md, "Cluster scaling run"): for each case one
// coordinator and N worker processes on 127.0.0.1, started from the bundles beside this file
// (build.sh), every process with the kit's Node and --initial-heap-size=256; samples/s from the
// run's metrics.jsonl step records once every worker has loaded the job; bit-identity of the final
// parameters across CPU worker counts. Plain JS, no project imports: it runs with the GPU kit's Node.
//   CLUSTER_NODE="$(printf '%s\n' "${NODE[@]}")" node run-cluster.mjs     (run-cluster.sh does this)
// Env (all optional):
//   CLUSTER_NODE          the command that starts Node, one word a line (default: this process's Node)
//   OUT                   results: cluster.json, cluster.md, cluster-logs/<case>/ (default ./out)
//   CLUSTER_MODELS        mlp,cnn                 CLUSTER_WORKERS  1,2,4,8 (CPU worker counts)
//   CLUSTER_CUDA_WORKERS  1,2 (none: no CUDA cases) CLUSTER_DEADLINE 150 (s, whole run; later cases skipped)
//   CLUSTER_CASE_TIMEOUT  60 (s)   CLUSTER_PORT 7340 (+ case index)   CLUSTER_WARMUP 5 (steps)
//   CLUSTER_RUN_ROOT      /tmp/gf-cluster-runs (run directories; removed first)
// Exit: 0 every case ran to its end on the device it asked for and the CPU cases of each model
// ended with bit-identical parameters; 1 otherwise (a case failed, timed out, was skipped, a CUDA
// worker fell back to the CPU, or the parameters differ); 2 bad setup.
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const env = process.env;
const list = (v, d) => (v ?? d).split(',').map((s) => s.trim()).filter((s) => s !== '' && s !== 'none');
const NODE = env.CLUSTER_NODE ? env.CLUSTER_NODE.split('\n').filter((s) => s !== '') : [process.execPath];
const NODE_FLAGS = ['--initial-heap-size=256']; // shared/node-flags.ts: every gradfleet process
const OUT = resolve(env.OUT ?? 'out');
const MODELS = list(env.CLUSTER_MODELS, 'mlp,cnn');
const CPU_WORKERS = list(env.CLUSTER_WORKERS, '1,2,4,8').map(Number);
const CUDA_WORKERS = list(env.CLUSTER_CUDA_WORKERS, '1,2').map(Number);
const DEADLINE_S = Number(env.CLUSTER_DEADLINE ?? 150);
const CASE_TIMEOUT_S = Number(env.CLUSTER_CASE_TIMEOUT ?? 60);
const PORT = Number(env.CLUSTER_PORT ?? 7340);
const WARMUP = Number(env.CLUSTER_WARMUP ?? 5);
const RUN_ROOT = resolve(env.CLUSTER_RUN_ROOT ?? '/tmp/gf-cluster-runs');
/** A case is not started with less than this left before the deadline. */
const MIN_CASE_S = 8;
/** Fewer timed steps than this: the figure is flagged. */
const MIN_TIMED_STEPS = 10;

const t0 = Date.now();
const since = () => ((Date.now() - t0) / 1000).toFixed(1);
const say = (line) => process.stdout.write(`[cluster ${since()} s] ${line}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

for (const f of ['coordinator.mjs', 'worker.mjs', 'thread-entry.mjs', ...MODELS.map((m) => `job-${m}.json`)]) {
  if (!existsSync(join(HERE, f))) {
    console.error(`NO ${f} in ${HERE}: run scripts/gpu/cluster/build.sh (stage.sh does) and carry .gpu-kit/p2`);
    process.exit(2);
  }
}
if ([...CPU_WORKERS, ...CUDA_WORKERS].some((n) => !Number.isInteger(n) || n < 1)) {
  console.error(`bad worker counts: CLUSTER_WORKERS=${env.CLUSTER_WORKERS} CLUSTER_CUDA_WORKERS=${env.CLUSTER_CUDA_WORKERS}`);
  process.exit(2);
}

// Cases, most telling first: the deadline skips from the end.
const cases = [];
for (const model of MODELS) {
  for (const n of CPU_WORKERS) cases.push({ model, device: 'cpu', workers: n });
  for (const n of CUDA_WORKERS) cases.push({ model, device: 'cuda', workers: n });
}
cases.forEach((c, i) => Object.assign(c, { id: `${c.model}-${c.device}-${c.workers}w`, port: PORT + i }));

const jobs = Object.fromEntries(MODELS.map((m) => [m, JSON.parse(readFileSync(join(HERE, `job-${m}.json`), 'utf8'))]));
let reference = {};
try {
  reference = JSON.parse(readFileSync(join(HERE, 'reference.json'), 'utf8'));
} catch {
  // No reference (the dry run writes one): nothing to compare across machines.
}

const machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model,
  memGiB: Math.round(totalmem() / 2 ** 30),
  loadavgBefore: loadavg().map((x) => +x.toFixed(2)),
  node: NODE.at(-1),
  gpu: nvidiaSmi(['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader']),
};

function nvidiaSmi(args) {
  const r = spawnSync('nvidia-smi', args, { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? r.stdout.trim() : null;
}

const live = new Set();
function start(args, logFile) {
  const log = createWriteStream(logFile);
  const child = spawn(NODE[0], [...NODE.slice(1), ...NODE_FLAGS, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...env, GRADFLEET_LOG_LEVEL: env.GRADFLEET_LOG_LEVEL ?? 'info' } });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  const exited = new Promise((res) => {
    child.on('error', (e) => {
      log.write(`spawn error: ${e.message}\n`);
      res({ code: null, signal: 'spawn-error' });
    });
    child.on('close', (code, signal) => {
      live.delete(child);
      log.end();
      res({ code, signal });
    });
  });
  live.add(child);
  return { child, exited, logFile };
}

async function stopAll(procs, graceMs) {
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
  const all = Promise.all(procs.map((p) => p.exited));
  if ((await Promise.race([all.then(() => 'done'), sleep(graceMs).then(() => 'late')])) === 'late') {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await all;
  }
}

const jsonLines = (file) =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .flatMap((l) => {
          try {
            return [JSON.parse(l)];
          } catch {
            return [];
          }
        })
    : [];

/** GPU use while a CUDA case runs: nvidia-smi every 500 ms, peaks kept. */
function gpuSampler() {
  const p = spawn('nvidia-smi', ['--query-gpu=utilization.gpu,memory.used', '--format=csv,noheader,nounits', '-lms', '500'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let text = '';
  p.stdout.on('data', (d) => (text += d));
  p.on('error', () => {});
  return () => {
    p.kill('SIGTERM');
    const rows = text
      .trim()
      .split('\n')
      .map((l) => l.split(',').map(Number))
      .filter((r) => r.length === 2 && r.every(Number.isFinite));
    if (rows.length === 0) return null;
    const util = rows.map((r) => r[0]);
    return { samples: rows.length, maxUtilPct: Math.max(...util), meanUtilPct: +(util.reduce((a, b) => a + b, 0) / util.length).toFixed(1), maxMemMiB: Math.max(...rows.map((r) => r[1])) };
  };
}

async function runCase(c, timeoutS) {
  const runDir = join(RUN_ROOT, c.id);
  const logs = join(OUT, 'cluster-logs', c.id);
  rmSync(runDir, { recursive: true, force: true });
  mkdirSync(logs, { recursive: true });
  const launched = Date.now();
  const stopGpu = c.device === 'cuda' ? gpuSampler() : () => null;
  const coord = start([join(HERE, 'coordinator.mjs'), 'start', '--config', join(HERE, `job-${c.model}.json`), '--port', String(c.port), '--host', '127.0.0.1', '--run-dir', runDir], join(logs, 'coordinator.log'));
  const workers = Array.from({ length: c.workers }, (_, i) =>
    start(
      [join(HERE, 'worker.mjs'), 'start', '--coordinator', `127.0.0.1:${c.port}`, '--device', c.device, ...(c.device === 'cpu' ? ['--threads', '1'] : []), '--name', `w${i + 1}`, '--unreachable-timeout', '30000'],
      join(logs, `worker-${i + 1}.log`),
    ),
  );
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    say(`${c.id}: over ${timeoutS.toFixed(0)} s, stopping it`);
    void stopAll([coord, ...workers], 5000);
  }, timeoutS * 1000);
  const coordExit = await coord.exited;
  clearTimeout(timer);
  // Workers leave by themselves when the job ends; a few seconds' grace, then they are stopped.
  const workersDone = Promise.all(workers.map((w) => w.exited));
  if ((await Promise.race([workersDone.then(() => 'done'), sleep(10_000).then(() => 'late')])) === 'late') await stopAll(workers, 3000);
  const workerExits = await workersDone;
  const wallS = (Date.now() - launched) / 1000;
  const gpu = stopGpu();

  const r = { ...c, status: 'ok', samplesPerS: null, msPerStep: null, steps: 0, timedSteps: 0, timedSamples: 0, finalParamsSha256: null, wallS: +wallS.toFixed(2), exitCodes: { coordinator: coordExit.code ?? coordExit.signal, workers: workerExits.map((e) => e.code ?? e.signal) }, problems: [] };
  if (timedOut) r.problems.push(`timed out after ${timeoutS.toFixed(0)} s`);
  if (coordExit.code !== 0) r.problems.push(`coordinator exit ${coordExit.code ?? coordExit.signal}`);
  if (workerExits.some((e) => e.code !== 0)) r.problems.push(`worker exits ${r.exitCodes.workers.join(',')}`);

  // What each worker really ran on: 'job loaded' names the session's device; a CUDA provider that
  // failed to load says FALLING BACK TO CPU (worker/device-probe.ts, shared/engine/open-session.ts).
  const loaded = [];
  const fallbacks = new Set();
  const ortErrors = new Set();
  for (const w of workers) {
    const lines = jsonLines(w.logFile);
    const l = lines.find((x) => x.msg === 'job loaded');
    if (l) loaded.push({ device: l.device, time: l.time });
    for (const x of lines) if (typeof x.msg === 'string' && x.msg.includes('FALLING BACK TO CPU')) fallbacks.add(x.msg.replace(/^.*?unavailable \(/, '').replace(/\); FALLING BACK TO CPU$/, '').slice(0, 300));
    // onnxruntime's own line says which library failed and why (the dlerror text at its end).
    const raw = existsSync(w.logFile) ? readFileSync(w.logFile, 'utf8').replace(/\x1b\[[0-9;]*m/g, '') : '';
    for (const m of raw.matchAll(/\[E:onnxruntime[^\]]*\]\s*(.*)/g)) ortErrors.add(m[1].replace(/^.*?\] : \d+ : [A-Z_]+ : /, '').slice(-400));
  }
  r.workerDevices = [...new Set(loaded.map((l) => l.device))];
  if (fallbacks.size > 0) r.fallback = [...fallbacks];
  if (ortErrors.size > 0) r.ortErrors = [...ortErrors];
  if (c.device === 'cuda' && (fallbacks.size > 0 || !loaded.every((l) => /^cuda/.test(l.device))))
    r.problems.push(`FELL BACK TO CPU (ran on ${r.workerDevices.join(', ') || 'nothing: no worker loaded the job'}): ${[...fallbacks, ...ortErrors].join('; ') || 'no reason logged'}`);
  if (gpu) r.gpu = gpu;

  const metrics = jsonLines(join(runDir, 'metrics.jsonl'));
  const steps = metrics.filter((m) => m.type === 'step');
  r.steps = steps.length;
  const evals = metrics.filter((m) => m.type === 'eval');
  r.valAccuracy = evals.find((m) => m.split === 'validation')?.accuracy ?? null;
  r.finalLoss = steps.at(-1)?.loss ?? null;
  if (steps.length !== jobs[c.model].max_steps) r.problems.push(`${steps.length} step records, expected ${jobs[c.model].max_steps}`);
  // The timed window: after the warm-up steps and after the step that ended first once the last
  // worker had loaded the job (N workers join within a fraction of a second, but not at once), so
  // that every worker computes in every timed step. It ends with the last step.
  if (steps.length > 0) {
    const ready = loaded.length === c.workers ? Math.max(...loaded.map((l) => l.time)) : Infinity;
    const firstAfterReady = steps.findIndex((s) => s.time >= ready);
    const from = Math.max(WARMUP, firstAfterReady < 0 ? steps.length : firstAfterReady + 2);
    const timed = steps.slice(from);
    r.readyS = Number.isFinite(ready) ? +((ready - launched) / 1000).toFixed(2) : null;
    r.firstStepS = +((steps[0].time - launched) / 1000).toFixed(2);
    r.timedFrom = from + 1;
    r.timedSteps = timed.length;
    r.timedSamples = timed.reduce((a, s) => a + s.samples, 0);
    if (timed.length > 0) {
      const seconds = (steps.at(-1).time - steps[from - 1].time) / 1000;
      r.samplesPerS = Math.round(r.timedSamples / seconds);
      r.msPerStep = +((seconds * 1000) / timed.length).toFixed(2);
    }
    if (timed.length < MIN_TIMED_STEPS) r.problems.push(`only ${timed.length} timed steps`);
  }
  try {
    r.finalParamsSha256 = JSON.parse(readFileSync(join(runDir, 'final-params.json'), 'utf8'))[0].sha256;
  } catch {
    r.problems.push('no final-params.json');
  }
  for (const f of ['metrics.jsonl', 'summary.json']) if (existsSync(join(runDir, f))) writeFileSync(join(logs, f), readFileSync(join(runDir, f)));
  if (r.problems.length > 0) r.status = timedOut ? 'timeout' : r.problems.some((p) => p.startsWith('FELL BACK')) && r.problems.length === 1 ? 'fell back' : 'failed';
  return r;
}

const results = [];
const fmt = (n) => (n === null || n === undefined ? '–' : Math.round(n).toLocaleString('en-US'));

/** Per model: CPU parameters identical across worker counts? Speed-ups against one CPU worker? */
function analyse() {
  const models = {};
  for (const model of MODELS) {
    const rs = results.filter((r) => r.model === model);
    const cpu = rs.filter((r) => r.device === 'cpu' && r.finalParamsSha256 && r.steps === jobs[model].max_steps && r.status === 'ok');
    const shas = [...new Set(cpu.map((r) => r.finalParamsSha256))];
    const cuda = rs.filter((r) => r.device === 'cuda' && r.finalParamsSha256 && r.status === 'ok');
    const base = rs.find((r) => r.device === 'cpu' && r.workers === 1 && r.samplesPerS)?.samplesPerS;
    for (const r of rs) r.speedupVsCpu1 = base && r.samplesPerS ? +(r.samplesPerS / base).toFixed(2) : null;
    models[model] = {
      cpuBitIdentical: cpu.length < 2 ? null : shas.length === 1,
      cpuWorkerCounts: cpu.map((r) => r.workers),
      cpuSha256: shas.length === 1 ? shas[0] : shas,
      cudaSha256: Object.fromEntries(cuda.map((r) => [`${r.workers}w`, r.finalParamsSha256])),
      cudaEqualsCpu: cuda.length && shas.length === 1 ? cuda.map((r) => r.finalParamsSha256 === shas[0]) : null,
      reference: reference[model] ?? null,
      sameAsReference: reference[model] && shas.length === 1 ? reference[model].sha256 === shas[0] : null,
    };
  }
  return models;
}

function verdict(models, skipped) {
  const lines = [];
  for (const model of MODELS) {
    const m = models[model];
    const rs = results.filter((r) => r.model === model);
    const cpu = rs.filter((r) => r.device === 'cpu');
    const cuda = rs.filter((r) => r.device === 'cuda');
    if (cpu.length) lines.push(`${model} cpu: ${cpu.map((r) => `${r.workers}w ${fmt(r.samplesPerS)}${r.status === 'ok' ? '' : ` (${r.status})`}`).join(', ')} samples/s; ${m.cpuBitIdentical === null ? 'bit-identity not checked (fewer than 2 good CPU cases)' : m.cpuBitIdentical ? `final params BIT-IDENTICAL over ${m.cpuWorkerCounts.join(', ')} workers (${String(m.cpuSha256).slice(0, 16)}…)` : `final params DIFFER across worker counts: ${cpu.map((r) => `${r.workers}w ${r.finalParamsSha256?.slice(0, 12)}`).join(', ')}`}${m.sameAsReference === null ? '' : m.sameAsReference ? '; same bits as the reference machine' : `; differs from the reference machine (${m.reference.machine ?? '?'})`}`);
    for (const r of cuda) lines.push(`${model} cuda ${r.workers}w: ${r.status === 'ok' ? `OK ${fmt(r.samplesPerS)} samples/s on ${r.workerDevices.join(', ')} (${r.speedupVsCpu1 ?? '–'}× one CPU worker${r.gpu ? `; GPU util max ${r.gpu.maxUtilPct} %, mean ${r.gpu.meanUtilPct} %, memory max ${r.gpu.maxMemMiB} MiB` : ''})` : `${r.status.toUpperCase()}: ${r.problems.join('; ')}${r.samplesPerS ? ` (${fmt(r.samplesPerS)} samples/s)` : ''}`}`);
  }
  if (skipped.length) lines.push(`SKIPPED (deadline ${DEADLINE_S} s): ${skipped.join(', ')}`);
  return lines;
}

function table() {
  const head = '| model | device | workers | samples/s | × 1 cpu worker | ms/step | timed steps | wall s | first step s | val acc | exit (coord; workers) | final params sha256 | status |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|';
  const rows = results.map(
    (r) => `| ${r.model} | ${r.device}${r.workerDevices?.length && !r.workerDevices.every((d) => d.startsWith(r.device)) ? ` → ${r.workerDevices.join(', ')}` : ''} | ${r.workers} | ${fmt(r.samplesPerS)} | ${r.speedupVsCpu1 ?? '–'} | ${r.msPerStep ?? '–'} | ${r.timedSteps}${r.timedFrom ? ` (from ${r.timedFrom})` : ''} | ${r.wallS} | ${r.firstStepS ?? '–'} | ${r.valAccuracy ?? '–'} | ${r.exitCodes.coordinator}; ${r.exitCodes.workers.join(',')} | ${r.finalParamsSha256 ? r.finalParamsSha256.slice(0, 16) : '–'} | ${r.status === 'ok' ? 'ok' : `${r.status}: ${r.problems.join('; ').slice(0, 160)}`} |`,
  );
  return [head, ...rows].join('\n');
}

let finished = false;
function writeResults(skipped, stopped) {
  const models = analyse();
  const lines = verdict(models, skipped);
  const report = {
    when: new Date().toISOString(),
    machine: { ...machine, loadavgAfter: loadavg().map((x) => +x.toFixed(2)) },
    settings: { models: MODELS, cpuWorkers: CPU_WORKERS, cudaWorkers: CUDA_WORKERS, deadlineS: DEADLINE_S, caseTimeoutS: CASE_TIMEOUT_S, warmupSteps: WARMUP, jobs },
    cases: results,
    skipped,
    stopped: stopped ?? null,
    models,
    verdict: lines,
    totalS: +((Date.now() - t0) / 1000).toFixed(1),
  };
  writeFileSync(join(OUT, 'cluster.json'), `${JSON.stringify(report, null, 2)}\n`);
  const md = `# Cluster scaling run\n\n${machine.cpus} CPUs (${machine.cpuModel}), ${machine.gpu ?? 'no GPU seen'}; ${report.totalS} s\n\n${table()}\n\n${lines.map((l) => `- ${l}`).join('\n')}\n`;
  writeFileSync(join(OUT, 'cluster.md'), md);
  return { report, md };
}

async function stopEverything(signal) {
  if (finished) return;
  finished = true;
  say(`${signal}: stopping ${live.size} process(es), writing what was measured`);
  for (const c of live) c.kill('SIGKILL');
  writeResults(cases.filter((c) => !results.some((r) => r.id === c.id)).map((c) => c.id), signal);
  process.exit(1);
}
process.on('SIGTERM', () => void stopEverything('SIGTERM'));
process.on('SIGINT', () => void stopEverything('SIGINT'));

mkdirSync(OUT, { recursive: true });
say(`${cases.length} cases (${cases.map((c) => c.id).join(' ')}), deadline ${DEADLINE_S} s; node: ${NODE.join(' ')}`);
const skipped = [];
for (const c of cases) {
  const left = DEADLINE_S - (Date.now() - t0) / 1000;
  if (left < MIN_CASE_S) {
    skipped.push(c.id);
    continue;
  }
  const r = await runCase(c, Math.min(CASE_TIMEOUT_S, left));
  results.push(r);
  say(`${c.id}: ${r.status}, ${fmt(r.samplesPerS)} samples/s over ${r.timedSteps} steps, ${r.wallS} s wall, params ${r.finalParamsSha256?.slice(0, 16) ?? '–'}${r.problems.length ? ` [${r.problems.join('; ')}]` : ''}`);
  writeResults([...skipped, ...cases.slice(cases.indexOf(c) + 1).map((x) => x.id)], 'in progress');
}
finished = true;
const { report, md } = writeResults(skipped, null);
process.stdout.write(`\n${md}\nCLUSTER VERDICT\n${report.verdict.map((l) => `  ${l}`).join('\n')}\n`);
const good = skipped.length === 0 && results.every((r) => r.status === 'ok') && Object.values(report.models).every((m) => m.cpuBitIdentical !== false);
rmSync(RUN_ROOT, { recursive: true, force: true });
process.exit(good ? 0 : 1);
