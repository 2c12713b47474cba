/**
 * The coordinator's capacity with many workers, by simulation (issue 8, target 5). A coordinator
 * process (no local workers) trains an MLP of P ≈ 1M parameters while simulated workers
 * (bench/sim/sim-workers.ts: the real worker loop over gRPC, answering every task at once with a
 * precomputed gradient of the job's layout) load it: N = 8 … 128 workers, each step N tasks of
 * one micro-batch of 8 samples (global batch N·8), so every step brings N gradient vectors of P
 * float32 values in and sends the new parameters out N times.
 *
 * - flat: the N simulated workers, in 2 processes, talk to the coordinator directly;
 * - two-level: the same N behind R relays (`coordinator relay`, coordinator/relay/), N/R each,
 *   one simulated-worker process per relay: the coordinator sums R vectors per step and sends
 *   the parameters R times; each relay takes N/R vectors and sends N/R parameter copies.
 *
 * Steps/s come from metrics.jsonl's step timestamps, counted from a few steps after the last
 * simulated worker registered (so every step of the window has its N tasks). Gradient ingest is
 * the vectors' bytes per step (N·P·4 flat, R·P·4 two-level) times steps/s, set against
 * summary.json's `transfer` (what the coordinator really received and sent, averaged over the
 * whole run). CPU is each process's user + system time over the window (/proc/<pid>/stat), in
 * cores: every process here shares the machine's cores, so the simulated workers' own gRPC work
 * competes with the coordinator's and the figures are a floor for the coordinator alone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JobInput } from '../../coordinator/job/schema.js';
import { NODE_FLAGS, PROCESS_ENV } from '../../shared/node-flags.js';
import { CpuSampler } from '../sim/cpu-sampler.js';
import { summarize, throughput } from '../timing.js';
import type { BenchContext, BenchRow, BenchSection, SectionResult } from '../section.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const COORDINATOR_BIN = join(ROOT, 'bin/coordinator.mjs');
const SIM_WORKERS = join(ROOT, 'bench/sim/sim-workers.ts');

/** MLP 784-1024-256-10: P = 784·1024 + 1024 + 1024·256 + 256 + 256·10 + 10 = 1,068,810 (checked against final-params.json). */
const LAYERS = [1024, 256, 10];
const P = 784 * 1024 + 1024 + 1024 * 256 + 256 + 256 * 10 + 10;
const MICRO = 8;
/** 8192 digits: a multiple of every global batch (N·8 ≤ 1024), so that every step is whole. */
const SAMPLES = 8192;
const WORKER_COUNTS = [8, 16, 32, 64, 128];
const RELAY_COUNTS = [2, 4];
/** Flat cases: the simulated workers in this many processes. */
const FLAT_PROCESSES = 2;
/** Steps after the last registration that are not timed (the phase in flight was grouped for fewer workers). */
const SETTLE_STEPS = 3;
/** Timed steps wanted, in seconds; steps per run are planned from the previous case's rate. */
const TIMED_SECONDS = 10;
/** At least this many timed steps, however slow. */
const MIN_TIMED_STEPS = 8;
/** Steps/s assumed for the first case (N = 8, flat) before anything was measured. */
const FIRST_GUESS_STEPS_PER_S = 8;

/** N simulated workers, talking to the coordinator directly (relays 0) or spread evenly over R relays. */
export interface Case {
  workers: number;
  /** 0: flat. */
  relays: number;
}

function benchJob(c: Case, maxSteps: number): JobInput {
  return {
    name: 'bench-scale',
    seed: 42,
    model: {
      spec: {
        name: 'bench-scale-mlp',
        input: { shape: [784] },
        layers: LAYERS.map((units, i) => (i < LAYERS.length - 1 ? { type: 'dense', units, activation: 'relu' } : { type: 'dense', units })),
        loss: 'cross-entropy',
        seed: 0,
      },
    },
    data: { source: 'digits', limit: SAMPLES, split: { validation: 0, test: 0 } },
    batch: { global: c.workers * MICRO, micro: MICRO },
    epochs: 1000,
    max_steps: maxSteps,
    optimizer: { kind: 'adamw', lr: 0.001, weight_decay: 0.01 },
    clip: { max_norm: 1 },
    eval: { every: 'epoch' },
    workers: { threads: 1 },
  } as JobInput;
}

/** A child process with its output kept (stdout whole, stderr's tail for errors and the log lines asked for). */
class Proc {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;

  constructor(
    readonly what: string,
    args: string[],
    logLevel: string,
  ) {
    this.child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...PROCESS_ENV, GRADFLEET_LOG_LEVEL: logLevel }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => (this.stdout += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve, reject) => {
      this.child.on('error', reject);
      this.child.on('exit', (code) => resolve(code));
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The first match of `re` on stdout, waited for up to `timeoutMs`. */
  async line(re: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.stdout);
      if (m) return m;
      if (this.child.exitCode !== null) throw new Error(`${this.what} exited (${this.child.exitCode}) before printing ${re}: ${this.stderr.slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`${this.what} did not print ${re} within ${timeoutMs} ms: ${this.stderr.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Waits for the exit (up to `timeoutMs`, then SIGKILL and an error); returns the code. */
  async exit(timeoutMs: number): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([this.exited, new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), timeoutMs)))]);
    clearTimeout(timer);
    if (r === 'timeout') {
      this.kill();
      throw new Error(`${this.what} did not exit within ${timeoutMs} ms: ${this.stderr.slice(-2000)}`);
    }
    return r;
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

interface StepLine {
  type: string;
  step: number;
  time: number;
}

interface Transfer {
  params_bytes_sent: number;
  gradient_bytes_received: number;
  results: number;
}

/** What one case measured. */
export interface ScaleRun {
  stepsPerSecond: number;
  timedSteps: number;
  seconds: number;
  /** All steps of the run (the planned max_steps). */
  steps: number;
  /** final-params.json's value count (P). */
  params: number;
  /** summary.json's transfer at the coordinator, per step over the whole run. */
  coordinatorPerStep: { gradient: number; params: number };
  /** Each relay's transfer from and to its workers, per step over the whole run. */
  relayPerStep: { gradient: number; params: number }[];
  /** Simulated-worker processes that had not ended 15 s after the coordinator (some of their workers never heard that the job ended). */
  lingering: number;
  /** Cores used over the timed window; undefined where /proc cannot be read. */
  cpu: { coordinator?: number; relays: (number | undefined)[]; sims: (number | undefined)[] };
}

/**
 * Runs one case: a coordinator, its relays, the simulated workers; `maxSteps` steps in all,
 * expected at about `expectedRate` steps/s (the deadline allows three times as long, plus start-up).
 */
export async function runScaleCase(c: Case, maxSteps: number, expectedRate: number): Promise<ScaleRun> {
  const dir = mkdtempSync(join(os.tmpdir(), 'gradfleet-bench-scale-'));
  const procs: Proc[] = [];
  const sampler = new CpuSampler();
  try {
    const jobFile = join(dir, 'job.json');
    writeFileSync(jobFile, JSON.stringify(benchJob(c, maxSteps)));
    const runDir = join(dir, 'run');
    const coordinator = new Proc('the coordinator', [...NODE_FLAGS, COORDINATOR_BIN, 'start', '--config', jobFile, '--port', '0', '--host', '127.0.0.1', '--run-dir', runDir], 'warn');
    procs.push(coordinator);
    const address = (await coordinator.line(/coordinator listening on (\S+)/, 60_000))[1]!;
    const relays = Array.from({ length: c.relays }, (_, i) => new Proc(`relay ${i}`, [...NODE_FLAGS, COORDINATOR_BIN, 'relay', '--upstream', address, '--port', '0', '--host', '127.0.0.1'], 'warn'));
    procs.push(...relays);
    const targets = c.relays > 0 ? await Promise.all(relays.map(async (r) => (await r.line(/relay listening on (\S+)/, 30_000))[1]!)) : Array.from({ length: FLAT_PROCESSES }, () => address);
    const perProcess = c.workers / targets.length;
    // Info level: each simulated worker logs one 'registered' line (the timed window starts after the last).
    const sims = targets.map((t, i) => new Proc(`simulated workers ${i}`, [...NODE_FLAGS, '--import', 'tsx', SIM_WORKERS, '--coordinator', t, '--count', String(perProcess), '--name', `sim${i}`], 'info'));
    procs.push(...sims);
    sampler.start([coordinator.pid, ...relays.map((r) => r.pid), ...sims.map((s) => s.pid)]);

    const code = await coordinator.exit(120_000 + (3_000 * maxSteps) / expectedRate);
    if (code !== 0) throw new Error(`the coordinator exited with ${code}: ${coordinator.stderr.slice(-2000)}`);
    for (const r of relays) {
      const rc = await r.exit(30_000);
      if (rc !== 0) throw new Error(`${r.what} exited with ${rc}: ${r.stderr.slice(-2000)}`);
    }
    // The measurement is the coordinator's and is complete. A simulated worker whose call was
    // still stuck when the coordinator shut down keeps trying to reach it (its own
    // --unreachable-timeout): its process is not waited for, only counted.
    let lingering = 0;
    for (const sim of sims) {
      const sc = await sim.exit(15_000).catch(() => undefined);
      if (sc !== 0) lingering++;
    }
    sampler.stop();

    const steps = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as StepLine)
      .filter((l) => l.type === 'step');
    if (steps.length !== maxSteps) throw new Error(`expected ${maxSteps} step lines, found ${steps.length}`);
    const registered = sims.flatMap((s) => registrationTimes(s.stderr));
    if (registered.length < c.workers) throw new Error(`${registered.length} simulated workers registered, ${c.workers} expected`);
    const lastRegistration = Math.max(...registered);
    const firstFull = steps.findIndex((s) => s.time > lastRegistration);
    const from = firstFull + SETTLE_STEPS;
    if (firstFull < 0 || steps.length - from < MIN_TIMED_STEPS)
      throw new Error(`only ${firstFull < 0 ? 0 : Math.max(0, steps.length - from)} steps after every simulated worker registered and ${SETTLE_STEPS} settling steps (of ${maxSteps}); plan more steps`);
    const t0 = steps[from - 1]!.time;
    const t1 = steps.at(-1)!.time;
    const seconds = (t1 - t0) / 1000;
    const timedSteps = steps.length - from;

    const summary = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as { transfer: Transfer };
    const params = (JSON.parse(readFileSync(join(runDir, 'final-params.json'), 'utf8')) as { values: number }[])[0]!.values;
    const relayPerStep = relays.map((r) => {
      const m = /from its workers: (\d+) results, (\d+) gradient bytes; to them: (\d+) parameter bytes/.exec(r.stdout);
      if (!m) throw new Error(`${r.what} printed no transfer line: ${r.stdout.slice(-1000)}`);
      return { gradient: Number(m[2]) / steps.length, params: Number(m[3]) / steps.length };
    });
    return {
      stepsPerSecond: timedSteps / seconds,
      timedSteps,
      seconds,
      steps: steps.length,
      params,
      coordinatorPerStep: { gradient: summary.transfer.gradient_bytes_received / steps.length, params: summary.transfer.params_bytes_sent / steps.length },
      relayPerStep,
      lingering,
      cpu: { coordinator: sampler.cores(coordinator.pid, t0, t1), relays: relays.map((r) => sampler.cores(r.pid, t0, t1)), sims: sims.map((s) => sampler.cores(s.pid, t0, t1)) },
    };
  } finally {
    sampler.stop();
    for (const p of procs) p.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** When each simulated worker registered (its 'registered' log line), from a sim-workers process's stderr. */
function registrationTimes(stderr: string): number[] {
  const times: number[] = [];
  for (const line of stderr.split('\n')) {
    if (!line.includes('"msg":"registered"')) continue;
    try {
      times.push((JSON.parse(line) as { time: number }).time);
    } catch {
      // A line cut off: not a registration we can time.
    }
  }
  return times;
}

const gb = (bytesPerStep: number, stepsPerSecond: number) => (bytesPerStep * stepsPerSecond) / 1e9;
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;
const cores = (x: number | undefined) => (x === undefined ? '?' : x.toFixed(2));
const sum = (xs: (number | undefined)[]) => (xs.some((x) => x === undefined) ? undefined : xs.reduce<number>((a, x) => a + x!, 0));

/** The process that used the most CPU over the window, in words. */
function busiest(cpu: ScaleRun['cpu']): string {
  const all: [string, number | undefined][] = [['coordinator', cpu.coordinator], ...cpu.relays.map((x, i): [string, number | undefined] => [`relay ${i}`, x]), ...cpu.sims.map((x, i): [string, number | undefined] => [`sim process ${i}`, x])];
  const known = all.filter((e): e is [string, number] => e[1] !== undefined).sort((a, b) => b[1] - a[1]);
  return known.length === 0 ? 'CPU not measured' : `busiest: ${known[0]![0]} (${known[0]![1].toFixed(2)} cores)`;
}

/** Steps to plan for a case expected to run at `rate` steps/s: registration and settling, then TIMED_SECONDS. */
function plannedSteps(rate: number, workers: number): number {
  // Registration takes about a second per 64 simulated workers, with steps running meanwhile.
  const beforeTimed = Math.ceil(rate * (1 + workers / 64)) + SETTLE_STEPS + 2;
  return beforeTimed + Math.max(MIN_TIMED_STEPS, Math.ceil(rate * TIMED_SECONDS));
}

export const scaleSection: BenchSection = {
  id: 'scale',
  title: `Coordinator capacity with N simulated workers (MLP 784-${LAYERS.join('-')}, P = ${P.toLocaleString('en-US')}, AdamW + clip, one micro-batch of ${MICRO} per worker and step), flat and behind R relays`,
  async run(ctx: BenchContext): Promise<SectionResult> {
    const rows: BenchRow[] = [];
    const runs = Math.max(1, Math.min(ctx.settings.runs, 3));
    const flatRate = new Map<number, number>();
    let previous: { workers: number; rate: number } | undefined;
    const cases: Case[] = [...WORKER_COUNTS.map((workers) => ({ workers, relays: 0 })), ...RELAY_COUNTS.flatMap((relays) => WORKER_COUNTS.map((workers) => ({ workers, relays })))];
    for (const c of cases) {
      // The previous case's rate, scaled by 1/N (the work per step grows with N); the flat rate at this N for a two-level case.
      const guess = c.relays > 0 && flatRate.has(c.workers) ? flatRate.get(c.workers)! : previous ? (previous.rate * previous.workers) / c.workers : FIRST_GUESS_STEPS_PER_S;
      const maxSteps = plannedSteps(guess, c.workers);
      const label = c.relays === 0 ? `flat, N = ${c.workers}` : `two-level, N = ${c.workers} behind ${c.relays} relays`;
      ctx.log(`  ${label}: ${runs} run(s) of ${maxSteps} steps...`);
      const measured: ScaleRun[] = [];
      for (let r = 0; r < runs; r++) measured.push(await runScaleCase(c, maxSteps, guess));
      if (measured[0]!.params !== P) throw new Error(`the scale model has ${measured[0]!.params} values; P is set to ${P}`);
      // Seconds per step through the timing helpers: the median run, and the slowest and fastest.
      const rate = throughput(summarize(measured.map((m) => 1 / m.stepsPerSecond), 1), 1);
      if (c.relays === 0) flatRate.set(c.workers, rate.value);
      previous = { workers: c.workers, rate: rate.value };
      const m = measured[Math.floor(measured.length / 2)]!;
      const vectorBytes = 4 * P;
      const atCoordinator = c.relays === 0 ? c.workers : c.relays;
      const ingest = gb(atCoordinator * vectorBytes, rate.value);
      const parts = [
        `coordinator ingest ${ingest.toFixed(2)} GB/s (${atCoordinator}·P·4 = ${mb(atCoordinator * vectorBytes)}/step; summary.json ${mb(m.coordinatorPerStep.gradient)}/step over all ${m.steps} steps), egress ${gb(m.coordinatorPerStep.params, rate.value).toFixed(2)} GB/s`,
        ...(c.relays > 0
          ? [`each relay ingest ${gb((c.workers / c.relays) * vectorBytes, rate.value).toFixed(2)} GB/s ((N/R)·P·4 = ${mb((c.workers / c.relays) * vectorBytes)}/step; measured ${m.relayPerStep.map((r) => mb(r.gradient)).join(', ')}), egress ${m.relayPerStep.map((r) => gb(r.params, rate.value).toFixed(2)).join(', ')} GB/s`]
          : []),
        `CPU cores: coordinator ${cores(m.cpu.coordinator)}${c.relays > 0 ? `, relays ${m.cpu.relays.map(cores).join(' + ')}` : ''}, simulated workers ${m.cpu.sims.map(cores).join(' + ')} (all ${cores(sum([m.cpu.coordinator, ...m.cpu.relays, ...m.cpu.sims]))} of ${os.availableParallelism()}); ${busiest(m.cpu)}`,
        `${m.timedSteps} steps in ${m.seconds.toFixed(1)} s timed`,
        ...(m.lingering > 0 ? [`${m.lingering} simulated-worker process(es) still waiting on a call 15 s after the coordinator ended (killed)`] : []),
      ];
      rows.push({ case: `${label} simulated workers (${c.relays === 0 ? FLAT_PROCESSES : c.relays} processes)`, value: rate.value, unit: 'steps/s', range: rate.range, note: parts.join('; ') });
      rows.push({ case: `${label}: gradient ingest at the coordinator`, value: ingest, unit: 'GB/s', range: [gb(atCoordinator * vectorBytes, rate.range[0]), gb(atCoordinator * vectorBytes, rate.range[1])] });
    }
    return {
      rows,
      notes: [
        `every process (coordinator, relays, simulated workers) shares this machine's ${os.availableParallelism()} cores: the simulated workers' own gRPC work (decoding N parameter copies and encoding N gradients per step) competes with the coordinator's, so these figures are a floor for the coordinator alone`,
        `simulated workers answer at once with a precomputed gradient (bench/sim/): the steps/s are the cluster's transport and arithmetic, with no model compute`,
      ],
    };
  },
};
