/**
 * `--metrics-port` of `coordinator start` and `worker start`: Prometheus scrapes during real runs
 * (a coordinator and one worker process) agree with what the run writes and what a worker does.
 */
import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS, PROCESS_ENV } from '../../shared/node-flags.js';
import { readMetrics, tinyJob } from './harness.js';

const COORDINATOR_BIN = fileURLToPath(new URL('../../bin/coordinator.mjs', import.meta.url));
const WORKER_BIN = fileURLToPath(new URL('../../bin/worker.mjs', import.meta.url));
/** fc1 784×32 + 32, fc2 32×10 + 10. */
const P = 784 * 32 + 32 + 32 * 10 + 10;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus' text exposition format: one sample per line that is not a comment. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

describe('Prometheus metrics (--metrics-port)', () => {
  it('serves step, evaluation, pool and transfer metrics that agree with metrics.jsonl while the job runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradfleet-prom-'));
    try {
      const job = tinyJob({ epochs: 80, clip: { max_norm: 0.5 }, eval: { every: 'epoch', batch: 100 } } as never);
      const jobFile = join(dir, 'job.json');
      writeFileSync(jobFile, JSON.stringify(job));
      const runDir = join(dir, 'run');
      const child = spawn(process.execPath, [...NODE_FLAGS, COORDINATOR_BIN, 'start', '--config', jobFile, '--port', '0', '--host', '127.0.0.1', '--local-workers', '1', '--metrics-port', '0', '--run-dir', runDir], {
        env: { ...process.env, ...PROCESS_ENV, GRADFLEET_LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

      // Scrape until the run is well under way (an evaluation done, 30 steps or more).
      let samples: Sample[] = [];
      let url: string | undefined;
      for (const deadline = Date.now() + 60_000; ; ) {
        if (Date.now() > deadline) throw new Error(`no metrics in time:\n${stdout}\n${stderr}`);
        url ??= /^metrics: (\S+)$/m.exec(stdout)?.[1];
        if (url) {
          samples = parseExposition(await (await fetch(url)).text());
          if ((value(samples, 'gradfleet_steps_total', { run: 'tiny' }) ?? 0) >= 30 && value(samples, 'gradfleet_eval_accuracy', { run: 'tiny', split: 'validation' }) !== undefined) break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      const notFound = await fetch(url!.replace('/metrics', '/other'));
      expect(notFound.status).toBe(404);
      // The lines on disk when the scrape was answered, and maybe a few more.
      const lines = readMetrics(runDir);
      const steps = value(samples, 'gradfleet_steps_total', { run: 'tiny' })!;
      const stepLines = lines.filter((l) => l.type === 'step');
      expect(stepLines.length).toBeGreaterThanOrEqual(steps);
      const firstSteps = stepLines.slice(0, steps);
      expect(value(samples, 'gradfleet_samples_total', { run: 'tiny' })).toBe(firstSteps.reduce((a, l) => a + (l.samples as number), 0));
      expect(value(samples, 'gradfleet_skipped_steps_total', { run: 'tiny' }) ?? 0).toBe(0);
      expect(value(samples, 'gradfleet_step_seconds_count', { run: 'tiny' })).toBe(steps - 1);
      const loss = value(samples, 'gradfleet_loss', { run: 'tiny' })!;
      expect(Number.isFinite(loss) && loss > 0).toBe(true);
      const before = value(samples, 'gradfleet_grad_norm', { run: 'tiny', clipping: 'before' })!;
      const after = value(samples, 'gradfleet_grad_norm', { run: 'tiny', clipping: 'after' })!;
      expect(after).toBeLessThanOrEqual(0.5 + 1e-6);
      expect(after).toBeLessThanOrEqual(before + 1e-6);
      expect(value(samples, 'gradfleet_learning_rate', { run: 'tiny' })).toBe(0.1);
      const accuracy = value(samples, 'gradfleet_eval_accuracy', { run: 'tiny', split: 'validation' })!;
      expect(accuracy).toBeGreaterThan(0);
      expect(accuracy).toBeLessThanOrEqual(1);
      expect(value(samples, 'gradfleet_workers', { state: 'training' })).toBe(1);
      expect(value(samples, 'gradfleet_workers', { state: 'draining' })).toBe(0);
      // One worker pre-reduces each step's micro-batches: one gradient of P float32 per step, and
      // one parameter download per step (the step in flight may have moved one more of each).
      const received = value(samples, 'gradfleet_gradient_bytes_received_total')!;
      const sent = value(samples, 'gradfleet_params_bytes_sent_total')!;
      // Received bytes count chunk by chunk (a chunk never spans two tensors), so a scrape during
      // an upload sees part of it.
      expect(received / (4 * P)).toBeGreaterThanOrEqual(steps);
      expect(received / (4 * P)).toBeLessThanOrEqual(steps + 1);
      expect(sent % (4 * P)).toBe(0);
      expect(sent / (4 * P)).toBeGreaterThanOrEqual(steps);
      expect(value(samples, 'gradfleet_tasks_moved_total', { reason: 'lost' })).toBe(0);
      expect(value(samples, 'gradfleet_coordinator_process_cpu_seconds_total')).toBeGreaterThan(0);

      expect(await exited).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
  it("serves a worker's own metrics: tasks by outcome, compute time, values uploaded, parameter downloads", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradfleet-prom-worker-'));
    const env = { ...process.env, ...PROCESS_ENV, GRADFLEET_LOG_LEVEL: 'warn' };
    try {
      const jobFile = join(dir, 'job.json');
      writeFileSync(jobFile, JSON.stringify(tinyJob({ epochs: 80 })));
      const coordinator = spawn(process.execPath, [...NODE_FLAGS, COORDINATOR_BIN, 'start', '--config', jobFile, '--port', '0', '--host', '127.0.0.1', '--run-dir', join(dir, 'run')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let coordinatorOut = '';
      coordinator.stdout!.on('data', (d: Buffer) => (coordinatorOut += d.toString()));
      const coordinatorExited = new Promise<number | null>((resolve) => coordinator.on('exit', (code) => resolve(code)));
      let address: string | undefined;
      for (const deadline = Date.now() + 60_000; !(address = /^coordinator listening on (\S+)/m.exec(coordinatorOut)?.[1]); ) {
        if (Date.now() > deadline) throw new Error(`the coordinator did not listen:\n${coordinatorOut}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const worker = spawn(process.execPath, [...NODE_FLAGS, WORKER_BIN, 'start', '--coordinator', address, '--metrics-port', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let workerOut = '';
      worker.stdout!.on('data', (d: Buffer) => (workerOut += d.toString()));
      const workerExited = new Promise<number | null>((resolve) => worker.on('exit', (code) => resolve(code)));

      let samples: Sample[] = [];
      for (const deadline = Date.now() + 60_000; ; ) {
        if (Date.now() > deadline) throw new Error(`no worker metrics in time:\n${workerOut}`);
        const url = /^metrics: (\S+)$/m.exec(workerOut)?.[1];
        if (url) {
          samples = parseExposition(await (await fetch(url)).text());
          if ((value(samples, 'gradfleet_worker_tasks_total', { kind: 'train', outcome: 'accepted' }) ?? 0) >= 20 && (value(samples, 'gradfleet_worker_tasks_total', { kind: 'eval', outcome: 'accepted' }) ?? 0) >= 1) break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      const tasks = (kind: string) => ['accepted', 'not_needed', 'rejected'].reduce((a, outcome) => a + (value(samples, 'gradfleet_worker_tasks_total', { kind, outcome }) ?? 0), 0);
      const train = tasks('train');
      // Every task is timed; only training tasks upload a vector (one per step: the worker sums its micro-batches).
      expect(value(samples, 'gradfleet_worker_compute_seconds_count', { kind: 'train' })).toBe(train);
      expect(value(samples, 'gradfleet_worker_compute_seconds_count', { kind: 'eval' })).toBe(tasks('eval'));
      expect(value(samples, 'gradfleet_worker_compute_seconds_sum', { kind: 'train' })).toBeGreaterThan(0);
      expect(value(samples, 'gradfleet_worker_gradient_values_sent_total')).toBe(train * P);
      // One parameter version per step, the first before any task, the next perhaps on its way.
      const downloads = value(samples, 'gradfleet_worker_param_downloads_total')!;
      expect(downloads).toBeGreaterThanOrEqual(train);
      expect(downloads).toBeLessThanOrEqual(train + 2);
      expect(value(samples, 'gradfleet_worker_coordinator_unreachable_total') ?? 0).toBe(0);
      expect(value(samples, 'gradfleet_worker_process_resident_memory_bytes')).toBeGreaterThan(0);

      expect(await coordinatorExited).toBe(0);
      expect(await workerExited).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
