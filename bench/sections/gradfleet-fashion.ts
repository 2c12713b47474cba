/**
 * gradfleet's contender in the time-to-accuracy section (time-to-accuracy.ts): `coordinator start
 * --local-workers N` on FASHION_JOB, as a user would run it, with the test split scored after every
 * epoch (`eval: { test: every }`) the way the PyTorch contenders score it. The bench watches
 * metrics.jsonl and stops the coordinator (SIGTERM: it drains, checkpoints and tells its workers
 * to stop) at the first test score at or above the target.
 *
 * Times come from metrics.jsonl: the clock starts when the first step started (its end time less
 * its duration), as torch_fashion.py's starts at its first step, so data loading, graph
 * compilation and process start-up are outside both; each evaluation's time is from the record
 * before it (the step it follows, or the previous evaluation) to its own.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JobInput } from '../../coordinator/job/schema.js';
import { NODE_FLAGS, PROCESS_ENV } from '../../shared/node-flags.js';
import { readMetricsFile } from '../../coordinator/run/metrics-file.js';
import type { BenchContext } from '../section.js';
import { missingDatasetNote, type FashionJob, type TimeToAccuracy, type TimeToAccuracyContender } from './fashion-job.js';

const COORDINATOR_BIN = fileURLToPath(new URL('../../bin/coordinator.mjs', import.meta.url));

/** FASHION_JOB as a gradfleet job file: the default MLP (784-256-128-10, dropout 0.2), one micro-batch per worker and step. */
export function fashionJobFile(job: FashionJob, workers: number): JobInput {
  const at = (name: string) => join(job.dataDir, name);
  return {
    name: 'bench-fashion',
    seed: job.seed,
    model: { spec: 'default' },
    data: {
      source: 'idx',
      train_images: at(job.files.trainImages),
      train_labels: at(job.files.trainLabels),
      test_images: at(job.files.testImages),
      test_labels: at(job.files.testLabels),
      split: { validation: 0 },
    },
    batch: { global: job.globalBatch, micro: job.globalBatch / workers },
    epochs: job.maxEpochs,
    optimizer: { kind: job.optimizer.kind, lr: job.optimizer.lr, weight_decay: job.optimizer.weightDecay, decay_biases: true },
    clip: { max_norm: job.clipMaxNorm },
    eval: { every: job.evalEvery ?? 'epoch', batch: 1000, test: 'every' },
    workers: { threads: 1 },
  } as JobInput;
}

interface MetricLine {
  type: string;
  split?: string;
  step?: number;
  epoch?: number;
  samples?: number;
  samples_per_s?: number;
  accuracy?: number;
  time?: number;
}

/** metrics.jsonl so far (the line being written, torn, is read next time). */
function readLines(path: string): MetricLine[] {
  return readMetricsFile(path).lines.map((l) => l.record as unknown as MetricLine);
}

/** The run as metrics.jsonl tells it, up to the first test score ≥ target (or to its end). */
export function timeToAccuracyFromMetrics(lines: readonly MetricLine[], target: number): TimeToAccuracy | undefined {
  const records = lines.filter((l) => (l.type === 'step' || l.type === 'eval') && typeof l.time === 'number');
  const first = records.find((l) => l.type === 'step');
  if (!first) return undefined;
  const t0 = first.time! - (1000 * first.samples!) / first.samples_per_s!;
  let evalMs = 0;
  let steps = 0;
  const curve: TimeToAccuracy['curve'] = [];
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    if (r.type === 'step') {
      steps = r.step!;
      continue;
    }
    evalMs += r.time! - (i > 0 ? records[i - 1]!.time! : t0);
    if (r.split !== 'test') continue;
    const seconds = (r.time! - t0) / 1000;
    curve.push({ step: steps, seconds, trainSeconds: seconds - evalMs / 1000, accuracy: r.accuracy! });
    if (r.accuracy! >= target) return { reached: true, seconds, trainSeconds: seconds - evalMs / 1000, steps, epochs: r.epoch! + 1, finalAccuracy: r.accuracy!, curve };
  }
  const last = curve.at(-1);
  if (!last) return undefined;
  return { reached: false, seconds: last.seconds, trainSeconds: last.trainSeconds, steps, epochs: (records.at(-1)!.epoch ?? 0) + 1, finalAccuracy: last.accuracy, curve };
}

/** Trains `job` on a local cluster of `workers` worker processes until its target (or the epoch cap). */
export async function measureGradfleetTimeToAccuracy(job: FashionJob, workers: number): Promise<TimeToAccuracy | { skipped: string }> {
  const missing = missingDatasetNote(job);
  if (missing) return { skipped: missing };
  const dir = mkdtempSync(join(tmpdir(), 'gradfleet-bench-fashion-'));
  try {
    const jobFile = join(dir, 'job.json');
    writeFileSync(jobFile, JSON.stringify(fashionJobFile(job, workers)));
    const runDir = join(dir, 'run');
    const child = spawn(process.execPath, [...NODE_FLAGS, COORDINATOR_BIN, 'start', '--config', jobFile, '--port', '0', '--host', '127.0.0.1', '--local-workers', String(workers), '--run-dir', runDir], {
      env: { ...process.env, ...PROCESS_ENV, GRADFLEET_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let ended = false;
    void exited.then(() => (ended = true));
    const metricsPath = join(runDir, 'metrics.jsonl');
    // An epoch takes seconds here; the allowance covers slow machines and start-up.
    const deadline = Date.now() + (120 + job.maxEpochs * 60) * 1000;
    let result: TimeToAccuracy | undefined;
    while (!ended && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      const r = timeToAccuracyFromMetrics(readLines(metricsPath), job.target);
      if (r?.reached) {
        result = r;
        break;
      }
    }
    if (!ended) child.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
    if (code === 'timeout') child.kill('SIGKILL');
    result ??= timeToAccuracyFromMetrics(readLines(metricsPath), job.target);
    if (!result) throw new Error(`the coordinator (exit ${String(code)}) wrote no test score: ${stderr}`);
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** gradfleet with `workers` local worker processes (one onnxruntime thread each). */
export function gradfleetContender(workers: number): TimeToAccuracyContender {
  return {
    label: `gradfleet, coordinator + ${workers} worker processes (loopback)`,
    threads: 1,
    run: (_ctx: BenchContext, job: FashionJob) => measureGradfleetTimeToAccuracy(job, workers),
  };
}
