/**
 * The coordinator's training core without sockets: TrainingRun + Scheduler driven by W simulated
 * workers (real onnxruntime sessions, test/coordinator/simulated-workers.ts) that finish their
 * tasks in a seeded random order. Each step's micro-batches are grouped into tasks for the pool
 * (one task per step for one worker, a node of the reduction tree per worker for more). Final
 * parameters must be bit-identical for every W, every grouping and every completion order, and
 * every epoch must use each training sample exactly once.
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
import { Arena } from '../../shared/kernels/index.js';
import { Scheduler } from '../../coordinator/dispatch/scheduler.js';
import { TrainingRun } from '../../coordinator/run/training-run.js';
import { RunDirectory } from '../../coordinator/run/outputs.js';
import { jobSchema, type JobInput } from '../../coordinator/job/schema.js';
import { taskKey, type TaskResult, type TaskSpec } from '../../coordinator/run/task.js';
import { Rng } from '../../shared/random.js';
import { openWorkers, phaseOwner, tasksFor, type Corrupt } from './simulated-workers.js';

const forward = buildForwardModel(defaultModelSpec(3));
const heads = forward.heads;
const train = compileTraining(forward.model, { heads, reduction: 'sum', dropout: 'mask-input', correct: true });
const evalGraph = compileEval(forward.model, { heads, correct: true });
const digits = loadDigits();
const indices = (from: number, n: number) => Uint32Array.from({ length: n }, (_, i) => from + i);

/**
 * Trains with `workers` simulated workers; `corrupt` changes a micro-batch's gradients as the
 * device writes them (a faulty device), for the skip tests.
 */
async function trainWith(workers: number, orderSeed: number, jobInput: JobInput, restartAtStep?: number, corrupt?: Corrupt) {
  const job = jobSchema.parse(jobInput);
  const dir = mkdtempSync(join(tmpdir(), 'gf-run-'));
  const arena = Arena.growable();
  const setup = (): ConstructorParameters<typeof TrainingRun>[0] => ({
    id: 0,
    name: 'main',
    job,
    arena,
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
  const sims = await openWorkers(workers, train, evalGraph, digits, Math.ceil(job.batch.global / job.batch.micro));
  let scheduler = new Scheduler();
  scheduler.startPhase(phaseOwner(run, workers), tasksFor(run.firstPhase(), workers), 0);
  /** Tasks per train phase, to check the grouping the pool got. */
  const tasksPerStep = new Map<string, number>();
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
      scheduler.startPhase(phaseOwner(run, workers), tasksFor(run.resumePhase(), workers), clock);
      restarted = true;
    }
    const round: { worker: (typeof sims)[number]; task: TaskSpec }[] = [];
    for (const worker of sims) {
      const task = scheduler.next(worker.id, clock);
      if (task) round.push({ worker, task });
    }
    const results: { worker: string; task: TaskSpec; result: TaskResult }[] = [];
    for (const { worker, task } of round) {
      if (task.kind === 'train') tasksPerStep.set(task.phase, (tasksPerStep.get(task.phase) ?? 0) + 1);
      results.push({ worker: worker.id, task, result: await worker.compute(task, run.currentParams(), arena, corrupt) });
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
  return { hash: hash.digest('hex'), summary, metrics, run, tasksPerStep, arena };
}

const baseJob: JobInput = { seed: 11, epochs: 2, batch: { global: 64, micro: 16 }, optimizer: { kind: 'adam', lr: 0.002 }, clip: { max_norm: 5 }, eval: { every: 'epoch', batch: 64 } };

describe('training core (TrainingRun + Scheduler, real sessions, no sockets)', () => {
  it('ends with bit-identical parameters for 1, 2 and 4 workers (one task per step, two, four) and any completion order', async () => {
    const one = await trainWith(1, 1, baseJob);
    const two = await trainWith(2, 2, baseJob);
    const four = await trainWith(4, 3, baseJob);
    expect(two.hash).toBe(one.hash);
    expect(four.hash).toBe(one.hash);
    expect(one.summary.steps).toBe(2 * Math.ceil(500 / 64));
    // The groupings really differ: the whole step in one task, then nodes of 2 and of 1 micro-batches.
    expect(new Set(one.tasksPerStep.values())).toEqual(new Set([1]));
    expect(new Set(two.tasksPerStep.values())).toEqual(new Set([2]));
    expect(new Set(four.tasksPerStep.values())).toEqual(new Set([4]));
    expect(one.tasksPerStep.size).toBe(one.summary.steps);
  }, 120_000);

  it('ends with the same bits when a step of 5 micro-batches is one task or 3 uneven ones (2 + 2 + 1)', async () => {
    // 80-sample steps of 5 micro-batches; the last step of an epoch has 20 samples (2 micro-batches).
    const job: JobInput = { ...baseJob, epochs: 1, batch: { global: 80, micro: 16 } };
    const one = await trainWith(1, 8, job);
    const three = await trainWith(3, 9, job);
    expect(three.hash).toBe(one.hash);
    expect(new Set(one.tasksPerStep.values())).toEqual(new Set([1]));
    expect(three.tasksPerStep.get('train:0')).toBe(3);
    expect(three.tasksPerStep.get('train:6')).toBe(2);
    expect(one.summary.epoch_sample_counts).toEqual([{ epoch: 0, samples: 500, distinct: 500, expected: 500 }]);
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
    // Step 3 (phase train:2), micro-batch 3 (the second of the second task): one NaN in the first parameter's gradient.
    const r = await trainWith(2, 6, job, undefined, (task, leaf, grads) => {
      if (task.phase === 'train:2' && leaf === 3) grads[0]![5] = Number.NaN;
    });
    const steps = r.metrics.filter((m) => m.type === 'step');
    const skipped = steps.filter((m) => m.skipped);
    expect(skipped.map((m) => m.step)).toEqual([3]);
    expect(skipped[0].non_finite).toEqual([{ microbatch: 3, param: train.params[0]!.name, element: 5, value: 'NaN' }]);
    expect(r.summary.skipped_steps).toBe(1);
    expect(r.summary.status).toBe('done');
    // One update fewer than steps: the skipped step did not advance the parameter version.
    expect(r.run.version).toBe(r.summary.steps - 1);
  }, 120_000);

  it('stops with a clear error after max_consecutive_skips non-finite steps in a row', async () => {
    const r = await trainWith(2, 7, { ...baseJob, max_consecutive_skips: 3 }, undefined, (task, _leaf, grads) => {
      if (task.phase !== 'train:0') grads[1]![0] = Number.POSITIVE_INFINITY;
    });
    expect(r.summary.status).toBe('failed');
    expect(r.summary.stop_reason).toMatch(/3 consecutive steps had non-finite gradients/);
    expect(r.summary.steps).toBe(4);
    expect(r.run.version).toBe(1);
  }, 120_000);
});
