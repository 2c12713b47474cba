/**
 * Real-process cluster tests: a coordinator child process (`bin/coordinator.mjs start --port 0`)
 * with a job object written to a job file, plus N worker child processes, all on 127.0.0.1.
 *
 *   const r = await runCluster({ job, workers: 2 });
 *   expect(r.exitCode).toBe(0); readFinalParams(r.runDir)
 *
 * startCluster gives the live handles instead (address, processes, addWorker) for tests that
 * disturb a running job, including killing the coordinator and starting it again on the same
 * run directory and port (restartCoordinator). Every wait has a deadline; on failure the
 * processes' output is in the error so a broken run says why.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS, PROCESS_ENV } from '../../shared/node-flags.js';
import type { JobInput } from '../../coordinator/job/schema.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const COORDINATOR_BIN = join(ROOT, 'bin/coordinator.mjs');
const WORKER_BIN = join(ROOT, 'bin/worker.mjs');

export interface ClusterOptions {
  job: JobInput;
  /** Worker processes started as soon as the coordinator listens (more via addWorker). */
  workers: number;
  /** Default: a fresh temp folder. */
  runDir?: string;
  /** Extra environment (GRADFLEET_LOG_LEVEL defaults to 'warn'). */
  env?: Record<string, string>;
  /** Extra `worker start` arguments, e.g. ['--threads', '1']. */
  workerArgs?: string[];
  /** Extra `coordinator start` arguments, e.g. ['--tls-cert', file, …]. */
  coordinatorArgs?: string[];
  /** Deadline for the coordinator to print its address (ms). */
  startTimeoutMs?: number;
}

export interface ProcessOutput {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface ClusterHandle {
  /** host:port the coordinator listens on. */
  address: string;
  port: number;
  runDir: string;
  jobFile: string;
  /** The coordinator process running now (the latest one after a restart). */
  coordinator: ChildProcess;
  workers: ChildProcess[];
  /**
   * Starts the coordinator again on the same job file, run directory and port (after the
   * previous one exited); resolves when it listens. Returns the time it was spawned.
   */
  restartCoordinator(): Promise<number>;
  /** Resolves when the current coordinator process has exited (deadline `timeoutMs`). */
  coordinatorExited(timeoutMs?: number): Promise<ProcessOutput>;
  /** The coordinators' JSON log lines (every start, in order), parsed. */
  coordinatorLog(): LogLine[];
  /** Worker `index`'s JSON log lines so far, parsed. */
  workerLog(index: number): LogLine[];
  /** Starts one more worker process. */
  addWorker(args?: string[]): ChildProcess;
  /** Resolves when the coordinator exits (deadline `timeoutMs`, then everything is killed and it rejects). */
  wait(timeoutMs?: number): Promise<ClusterResult>;
  /** Kills every process still running (SIGKILL). */
  kill(): void;
  /** Output so far, for failure messages. */
  output(): string;
}

export interface ClusterResult {
  exitCode: number | null;
  runDir: string;
  coordinator: ProcessOutput;
  workers: ProcessOutput[];
}

interface Tracked {
  child: ChildProcess;
  out: ProcessOutput;
  exited: Promise<void>;
}

function track(child: ChildProcess): Tracked {
  const out: ProcessOutput = { code: null, signal: null, stdout: '', stderr: '' };
  child.stdout?.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const exited = new Promise<void>((r) =>
    child.on('exit', (code, signal) => {
      out.code = code;
      out.signal = signal;
      r();
    }),
  );
  return { child, out, exited };
}

const tail = (s: string, n = 4000) => (s.length > n ? `…${s.slice(-n)}` : s);

/** A pino log line: `msg`, `time` (ms since the epoch) and the line's fields. */
export type LogLine = Record<string, unknown> & { msg: string; time: number };

/** The JSON lines of a process's stderr (other lines are skipped). */
export function parseLog(text: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const l of text.split('\n')) {
    if (!l.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(l) as LogLine);
    } catch {
      // A line cut off at the end of the output.
    }
  }
  return lines;
}

function spawnCoordinator(jobFile: string, runDir: string, port: number, env: NodeJS.ProcessEnv, args: readonly string[] = []): Tracked {
  return track(spawn(process.execPath, [...NODE_FLAGS, COORDINATOR_BIN, 'start', '--config', jobFile, '--port', String(port), '--host', '127.0.0.1', '--run-dir', runDir, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** Waits until the coordinator prints the address it listens on. */
function listening(c: Tracked, timeoutMs: number, output: () => string, onTimeout: () => void): Promise<string> {
  return new Promise<string>((resolveAddress, reject) => {
    const timer = setTimeout(() => {
      onTimeout();
      reject(new Error(`the coordinator did not print its address within ${timeoutMs} ms\n${output()}`));
    }, timeoutMs);
    const check = () => {
      const m = /coordinator listening on (\S+)/.exec(c.out.stdout);
      if (m) {
        clearTimeout(timer);
        resolveAddress(m[1]!);
      }
    };
    c.child.stdout!.on('data', check);
    check();
    void c.exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the coordinator exited before listening\n${output()}`));
    });
  });
}

/** Runs one worker process to its exit (for workers that have no coordinator to talk to). */
export async function runWorkerProcess(o: { coordinator: string; args?: string[]; env?: Record<string, string>; timeoutMs?: number }): Promise<ProcessOutput & { wallMs: number }> {
  const started = Date.now();
  const w = track(spawn(process.execPath, [...NODE_FLAGS, WORKER_BIN, 'start', '--coordinator', o.coordinator, ...(o.args ?? [])], { env: { ...process.env, ...PROCESS_ENV, GRADFLEET_LOG_LEVEL: 'warn', ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] }));
  const timeoutMs = o.timeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
  const ended = await Promise.race([w.exited.then(() => 'exited' as const), timedOut]);
  clearTimeout(timer);
  if (ended === 'timeout') {
    w.child.kill('SIGKILL');
    throw new Error(`the worker did not exit within ${timeoutMs} ms\n${w.out.stderr}`);
  }
  return { ...w.out, wallMs: Date.now() - started };
}

/** Runs one coordinator process on a job and run directory to its exit (no workers). */
export async function runCoordinatorProcess(o: { job: JobInput; runDir: string; env?: Record<string, string>; timeoutMs?: number }): Promise<ProcessOutput> {
  const jobFile = join(mkdtempSync(join(tmpdir(), 'gradfleet-job-')), 'job.yaml');
  writeFileSync(jobFile, JSON.stringify(o.job, null, 2));
  const c = spawnCoordinator(jobFile, o.runDir, 0, { ...process.env, GRADFLEET_LOG_LEVEL: 'warn', ...o.env });
  const timeoutMs = o.timeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
  const ended = await Promise.race([c.exited.then(() => 'exited' as const), timedOut]);
  clearTimeout(timer);
  if (ended === 'timeout') {
    c.child.kill('SIGKILL');
    throw new Error(`the coordinator did not exit within ${timeoutMs} ms\n${c.out.stdout}\n${c.out.stderr}`);
  }
  return c.out;
}

export async function startCluster(o: ClusterOptions): Promise<ClusterHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'gradfleet-cluster-'));
  const runDir = o.runDir ?? join(dir, 'run');
  const jobFile = join(dir, 'job.yaml');
  // JSON is YAML: the job object is written as is.
  writeFileSync(jobFile, JSON.stringify(o.job, null, 2));
  const env = { ...process.env, ...PROCESS_ENV, GRADFLEET_LOG_LEVEL: 'warn', ...o.env };
  const coordinators: Tracked[] = [spawnCoordinator(jobFile, runDir, 0, env, o.coordinatorArgs)];
  const current = () => coordinators[coordinators.length - 1]!;
  const workers: Tracked[] = [];
  const output = () =>
    [
      ...coordinators.map((c, i) => `coordinator${coordinators.length > 1 ? ` #${i + 1}` : ''} (exit ${c.out.code ?? c.out.signal}):\n${tail(c.out.stdout)}\n${tail(c.out.stderr)}`),
      ...workers.map((w, i) => `worker ${i} (exit ${w.out.code ?? w.out.signal}):\n${tail(w.out.stderr, 2000)}`),
    ].join('\n');
  const killAll = () => {
    for (const p of [...coordinators, ...workers]) if (p.out.code === null && p.out.signal === null) p.child.kill('SIGKILL');
  };

  const startTimeoutMs = o.startTimeoutMs ?? 30_000;
  const address = await listening(current(), startTimeoutMs, output, killAll);
  const port = Number(address.slice(address.lastIndexOf(':') + 1));

  const addWorker = (args: string[] = []): ChildProcess => {
    const w = track(spawn(process.execPath, [...NODE_FLAGS, WORKER_BIN, 'start', '--coordinator', address, '--name', `test-${workers.length}`, ...(o.workerArgs ?? []), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] }));
    workers.push(w);
    return w.child;
  };
  for (let i = 0; i < o.workers; i++) addWorker();

  return {
    address,
    port,
    runDir,
    jobFile,
    get coordinator() {
      return current().child;
    },
    get workers() {
      return workers.map((w) => w.child);
    },
    addWorker,
    kill: killAll,
    output,
    coordinatorLog: () => coordinators.flatMap((c) => parseLog(c.out.stderr)),
    workerLog: (index: number) => parseLog(workers[index]!.out.stderr),
    async coordinatorExited(timeoutMs = 15_000): Promise<ProcessOutput> {
      const c = current();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
      const ended = await Promise.race([c.exited.then(() => 'exited' as const), timedOut]);
      clearTimeout(timer);
      if (ended === 'timeout') throw new Error(`the coordinator did not exit within ${timeoutMs} ms\n${output()}`);
      return c.out;
    },
    async restartCoordinator(): Promise<number> {
      const previous = current();
      if (previous.out.code === null && previous.out.signal === null) throw new Error('restartCoordinator: the coordinator is still running');
      const spawnedAt = Date.now();
      coordinators.push(spawnCoordinator(jobFile, runDir, port, env, o.coordinatorArgs));
      await listening(current(), startTimeoutMs, output, killAll);
      return spawnedAt;
    },
    async wait(timeoutMs = 50_000): Promise<ClusterResult> {
      const coordinator = current();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
      const ended = await Promise.race([coordinator.exited.then(() => 'exited' as const), timedOut]);
      if (ended === 'timeout') {
        const diagnosis = output();
        killAll();
        throw new Error(`the coordinator did not finish within ${timeoutMs} ms\n${diagnosis}`);
      }
      // Workers are told to stop and leave before the coordinator exits; give them a moment.
      await Promise.race([Promise.all(workers.map((w) => w.exited)), new Promise((r) => setTimeout(r, 5_000))]);
      clearTimeout(timer);
      killAll();
      return { exitCode: coordinator.out.code, runDir, coordinator: coordinator.out, workers: workers.map((w) => w.out) };
    },
  };
}

/** Starts a cluster and waits for its end. */
export async function runCluster(o: ClusterOptions & { timeoutMs?: number }): Promise<ClusterResult> {
  const c = await startCluster(o);
  return c.wait(o.timeoutMs);
}

export interface FinalParams {
  run: string;
  version: number;
  values: number;
  sha256: string;
}

/** The per-run parameter checksums the coordinator writes at the end (final-params.json). */
export function readFinalParams(runDir: string): FinalParams[] {
  return JSON.parse(readFileSync(join(runDir, 'final-params.json'), 'utf8')) as FinalParams[];
}

/** metrics.jsonl as objects. */
export function readMetrics(runDir: string): Record<string, unknown>[] {
  return readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A small, quick job: an MLP 784-32-10 on the first samples of the bundled digits. */
/**
 * An MLP 784-256-256-10 on 800 training samples: 13 steps per epoch, 4 micro-batches per step,
 * 52 steps in 4 epochs, a checkpoint every 4 steps. Big enough that a worker spends most of its
 * time computing (so a stalled or killed worker is caught holding a micro-batch), small enough
 * that the job runs for a few seconds. Used by the fault and rerun tests.
 */
export function faultSizedJob(overrides: Partial<JobInput> = {}): JobInput {
  return tinyJob({
    epochs: 4,
    data: { source: 'digits', limit: 1000, split: { validation: 100, test: 100 } },
    model: {
      spec: {
        input: { name: 'x', shape: [784] },
        layers: [{ type: 'dense', name: 'fc1', units: 256 }, { type: 'relu' }, { type: 'dense', name: 'fc2', units: 256 }, { type: 'relu' }, { type: 'dense', name: 'fc3', units: 10 }],
        loss: 'cross-entropy',
      },
    },
    optimizer: { kind: 'adam', lr: 0.002 },
    checkpoint: { every_steps: 4, keep: 3 },
    ...overrides,
  } as Partial<JobInput>);
}

export function tinyJob(overrides: Partial<JobInput> = {}): JobInput {
  return {
    name: 'tiny',
    seed: 7,
    model: {
      spec: {
        input: { name: 'x', shape: [784] },
        layers: [
          { type: 'dense', name: 'fc1', units: 32 },
          { type: 'relu' },
          { type: 'dense', name: 'fc2', units: 10 },
        ],
        loss: 'cross-entropy',
      },
    },
    data: { source: 'digits', limit: 600, split: { validation: 100, test: 100 } },
    batch: { global: 64, micro: 16 },
    epochs: 2,
    optimizer: { kind: 'sgd', lr: 0.1 },
    workers: { heartbeat: '500ms', lease: '5s' },
    ...overrides,
  } as JobInput;
}
