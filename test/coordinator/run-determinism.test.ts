/**
 * The coordinator's training core without sockets: TrainingRun + Scheduler driven by W simulated
 * workers (real onnxruntime sessions) that finish their tasks in a seeded random order. Final
 * parameters must be bit-identical for every W and every completion order, and every epoch must
 * use each training sample exactly once.
 */
import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { pino } from 'pino';
import { buildForwardModel } from '../../shared/model/build.js';
import { defaultModelSpec } from '../../shared/model/defaults.js';
import { compileTraining } from '../../shared/autodiff/compile.js';
import { compileEval } from '../../shared/autodiff/eval.js';
import { loadDigits } from '../../shared/data/digits.js';
import { gatherBatch } from '../../shared/data/batch.js';
import { TrainingRunner, EvalRunner } from '../../shared/engine/runner.js';
import { cpuDevice } from '../../shared/engine/cpu.js';
import { Scheduler } from '../../coordinator/dispatch/scheduler.js';
import { TrainingRun } from '../../coordinator/run/training-run.js';
import { RunDirectory } from '../../coordinator/run/outputs.js';
import { jobSchema, type JobInput } from '../../coordinator/job/schema.js';
import { taskKey, type TaskResult, type TaskSpec } from '../../coordinator/run/task.js';
import { Rng } from '../../shared/random.js';

const forward = buildForwardModel(defaultModelSpec(3));
const heads = forward.heads;
const train = compileTraining(forward.model, { heads, reduction: 'sum', dropout: 'mask-input', correct: true });
const evalGraph = compileEval(forward.model, { heads, correct: true });
const digits = loadDigits();
const indices = (from: number, n: number) => Uint32Array.from({ length: n }, (_, i) => from + i);

/** Corrupts a result in place (a faulty device), for the skip tests. */
type Corrupt = (task: TaskSpec, result: TaskResult) => void;

async function trainWith(workers: number, orderSeed: number, jobInput: JobInput, restartAtStep?: number, corrupt?: Corrupt) {
  const job = jobSchema.parse(jobInput);
  const dir = mkdtempSync(join(tmpdir(), 'gf-run-'));
  const setup = (): ConstructorParameters<typeof TrainingRun>[0] => ({
    id: 0,
    name: 'main',
    job,
    params: train.params,
    buffers: train.buffers,
    trainIndices: indices(0, 500),
    validationIndices: indices(500, 100),
    testIndices: indices(600, 100),
    seed: job.seed,
    out: new RunDirectory(dir),
    log: pino({ level: 'silent' }),
    now: () => performance.now(),
  });
  let run = new TrainingRun(setup());
  const shapes = new Map([...train.params, ...train.buffers].map((p) => [p.name, p.shape]));
  const sims = await Promise.all(
    Array.from({ length: workers }, async (_, w) => ({
      id: `w${w}`,
      train: await TrainingRunner.open(train, cpuDevice()),
      evaluate: await EvalRunner.open(evalGraph, cpuDevice(), shapes),
    })),
  );
  let scheduler = new Scheduler();
  scheduler.startPhase(run, run.firstPhase(), 0);
  let restarted = false;
  const rng = Rng.seeded(orderSeed);
  let clock = 0;
  while (scheduler.activeRuns > 0) {
    if (restartAtStep !== undefined && !restarted && run.globalStep === restartAtStep) {
      // A coordinator that dies here and starts again from its checkpoint, through bytes on disk.
      const { decodeCheckpoint, encodeCheckpoint } = await import('../../coordinator/checkpoint/file.js');
      const saved = decodeCheckpoint<ReturnType<TrainingRun['checkpointContents']>['meta']>(encodeCheckpoint(run.checkpointContents()));
      run = new TrainingRun(setup());
      run.restore(saved);
      scheduler = new Scheduler();
      scheduler.startPhase(run, run.resumePhase(), clock);
      restarted = true;
    }
    const round: { worker: (typeof sims)[number]; task: TaskSpec }[] = [];
    for (const worker of sims) {
      const task = scheduler.next(worker.id, clock);
      if (task) round.push({ worker, task });
    }
    const results: { worker: string; task: TaskSpec; result: TaskResult }[] = [];
    for (const { worker, task } of round) {
      const { params, buffers } = run.currentParams();
      const batch = gatherBatch(digits, task.indices);
      if (task.kind === 'train') {
        worker.train.setParams(params);
        worker.train.setBuffers(buffers);
        const r = await worker.train.step(batch, task.maskSeed);
        const result: TaskResult = { count: batch.count, loss: r.loss, headLosses: r.headLosses, normalizers: r.headNormalizers, correct: r.correct, grads: r.grads, state: r.state, workerId: worker.id, computeMs: 0 };
        corrupt?.(task, result);
        results.push({ worker: worker.id, task, result });
      } else {
        worker.evaluate.setWeights(params, buffers);
        const r = await worker.evaluate.evaluate(batch);
        results.push({ worker: worker.id, task, result: { count: r.count, loss: r.lossSum, headLosses: r.headLossSums, normalizers: r.headNormalizers, correct: r.correct, workerId: worker.id, computeMs: 0 } });
      }
    }
    // Completion order is shuffled: the sum must not depend on it.
    const order = rng.permutation(results.length);
    for (const k of order) {
      const { worker, task, result } = results[k]!;
      scheduler.submit(worker, taskKey(task), result, false, ++clock);
    }
  }
  const hash = createHash('sha256');
  for (const p of run.params) hash.update(Buffer.from(p.buffer, p.byteOffset, p.byteLength));
  const summary = run.summary();
  const metrics = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  return { hash: hash.digest('hex'), summary, metrics, run };
}

const baseJob: JobInput = { seed: 11, epochs: 2, batch: { global: 64, micro: 16 }, optimizer: { kind: 'adam', lr: 0.002 }, clip: { max_norm: 5 }, eval: { every: 'epoch', batch: 64 } };

describe('training core (TrainingRun + Scheduler, real sessions, no sockets)', () => {
  it('ends with bit-identical parameters for 1, 2 and 4 workers and any completion order', async () => {
    const one = await trainWith(1, 1, baseJob);
    const two = await trainWith(2, 2, baseJob);
    const four = await trainWith(4, 3, baseJob);
    expect(two.hash).toBe(one.hash);
    expect(four.hash).toBe(one.hash);
    expect(one.summary.steps).toBe(2 * Math.ceil(500 / 64));
  }, 120_000);

  it('uses every training sample exactly once per epoch, the last partial batch at its true size', async () => {
    const r = await trainWith(3, 5, baseJob);
    expect(r.summary.epoch_sample_counts).toEqual([
      { epoch: 0, samples: 500, distinct: 500, expected: 500 },
      { epoch: 1, samples: 500, distinct: 500, expected: 500 },
    ]);
    const steps = r.metrics.filter((m) => m.type === 'step');
    expect(steps.map((s) => s.samples).slice(0, 8)).toEqual([64, 64, 64, 64, 64, 64, 64, 52]);
    expect(steps.every((s) => Number.isFinite(s.grad_norm) && s.grad_norm_clipped <= 5 + 1e-6)).toBe(true);
    const evals = r.metrics.filter((m) => m.type === 'eval');
    expect(evals.map((e) => e.split)).toEqual(['validation', 'validation', 'test']);
    expect(evals.at(-1).count).toBe(100);
  }, 120_000);

  it('continues bit-identically from a checkpoint taken mid-epoch and one taken before an evaluation', async () => {
    const job = { ...baseJob, early_stopping: { monitor: 'val_accuracy' as const, patience: 5 } };
    const straight = await trainWith(2, 4, job);
    const midEpoch = await trainWith(2, 4, job, 3);
    const atEpochEnd = await trainWith(2, 4, job, Math.ceil(500 / 64));
    expect(midEpoch.hash).toBe(straight.hash);
    expect(atEpochEnd.hash).toBe(straight.hash);
    expect(atEpochEnd.summary.epoch_sample_counts).toEqual(straight.summary.epoch_sample_counts);
    expect(midEpoch.summary.epoch_sample_counts).toEqual(straight.summary.epoch_sample_counts);
  }, 120_000);

  it('skips a step whose aggregated gradient is not finite, leaving the parameters untouched, and names the micro-batch', async () => {
    const job = { ...baseJob, epochs: 1 };
    // Step 3 (phase train:2), micro-batch 1: one NaN in the first parameter's gradient.
    const r = await trainWith(2, 6, job, undefined, (task, result) => {
      if (task.phase === 'train:2' && task.index === 1) result.grads![0]![5] = Number.NaN;
    });
    const steps = r.metrics.filter((m) => m.type === 'step');
    const skipped = steps.filter((m) => m.skipped);
    expect(skipped.map((m) => m.step)).toEqual([3]);
    expect(skipped[0].non_finite[0]).toMatchObject({ microbatch: 1, element: 5 });
    expect(r.summary.skipped_steps).toBe(1);
    expect(r.summary.status).toBe('done');
    // One update fewer than steps: the skipped step did not advance the parameter version.
    expect(r.run.version).toBe(r.summary.steps - 1);
  }, 120_000);

  it('stops with a clear error after max_consecutive_skips non-finite steps in a row', async () => {
    const r = await trainWith(2, 7, { ...baseJob, max_consecutive_skips: 3 }, undefined, (task, result) => {
      if (task.kind === 'train' && task.phase !== 'train:0') result.grads![1]![0] = Number.POSITIVE_INFINITY;
    });
    expect(r.summary.status).toBe('failed');
    expect(r.summary.stop_reason).toMatch(/3 consecutive steps had non-finite gradients/);
    expect(r.summary.steps).toBe(4);
    expect(r.run.version).toBe(1);
  }, 120_000);
});
