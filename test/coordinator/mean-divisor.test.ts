/**
 * The coordinator divides summed gradients by the loss normalizers the graph reports, so a step
 * split into micro-batches equals PyTorch's mean over the whole batch — also for mse with several
 * outputs (mean over elements, not samples).
 */
import { describe, it, expect } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { buildForwardModel } from '../../shared/model/build.js';
import { compileTraining } from '../../shared/autodiff/compile.js';
import { gatherBatch } from '../../shared/data/batch.js';
import type { Dataset } from '../../shared/data/dataset.js';
import { compileEval } from '../../shared/autodiff/eval.js';
import { Arena } from '../../shared/kernels/index.js';
import { TrainingRunner } from '../../shared/engine/runner.js';
import { cpuDevice } from '../../shared/engine/cpu.js';
import { TrainingRun } from '../../coordinator/run/training-run.js';
import { RunDirectory } from '../../coordinator/run/outputs.js';
import { Scheduler } from '../../coordinator/dispatch/scheduler.js';
import { jobSchema } from '../../coordinator/job/schema.js';
import { meanDivisor, headMeans } from '../../coordinator/aggregate/index.js';
import { taskKey } from '../../coordinator/run/task.js';
import { Rng } from '../../shared/random.js';
import { openWorkers, phaseOwner, tasksFor } from './simulated-workers.js';

describe('mean divisor', () => {
  it('is the summed normalizer for one head and the sample count for several', () => {
    expect(meanDivisor([{ count: 4, normalizers: [12] }, { count: 2, normalizers: [6] }])).toBe(18);
    expect(meanDivisor([{ count: 4, normalizers: [4, 12] }, { count: 2, normalizers: [2, 6] }])).toBe(6);
    expect(meanDivisor([{ count: 4 }, { count: 2 }])).toBe(6);
    expect(headMeans([{ count: 4, normalizers: [4, 12], headLosses: [8, 24] }, { count: 2, normalizers: [2, 6], headLosses: [4, 6] }])).toEqual([2, 30 / 18]);
  });

  it.each([1, 5])('makes a micro-batched mse step equal one full-batch step of PyTorch-mean gradients, the step grouped for a pool of %i', async (workers) => {
    const n = 24;
    const rng = Rng.seeded(3);
    const ds: Dataset = { name: 'synthetic', size: n, featureShape: [4], numClasses: undefined, features: rng.floats(n * 4), labels: rng.floats(n * 3), targetWidth: 3 };
    const forward = buildForwardModel({ input: { shape: [4] }, layers: [{ type: 'dense', units: 3 }], loss: 'mse', seed: 1 });
    const sumGraph = compileTraining(forward.model, { heads: forward.heads, reduction: 'sum', dropout: 'mask-input' });
    const meanGraph = compileTraining(forward.model, { heads: forward.heads, reduction: 'mean', dropout: 'mask-input' });
    const lr = 0.1;
    const job = jobSchema.parse({ seed: 5, epochs: 1, max_steps: 1, batch: { global: n, micro: 5 }, optimizer: { kind: 'sgd', lr } });
    const arena = Arena.growable();
    const run = new TrainingRun({
      id: 0, name: 'mse', job, arena, params: sumGraph.params, buffers: sumGraph.buffers,
      trainIndices: Uint32Array.from({ length: n }, (_, i) => i), validationIndices: new Uint32Array(0), testIndices: new Uint32Array(0),
      seed: 5, out: new RunDirectory(mkdtempSync(join(tmpdir(), 'gf-mse-'))), log: pino({ level: 'silent' }), now: () => 0,
    });
    // Grouped for a pool of 1, the step is one task (its 5 micro-batches added over the tree); for a
    // pool of 5, five tasks of one micro-batch, added by the run. One simulated worker computes them.
    const [worker] = await openWorkers(1, sumGraph, compileEval(forward.model, { heads: forward.heads }), ds, 5);
    const scheduler = new Scheduler();
    const first = tasksFor(run.firstPhase(), workers);
    expect(first).toHaveLength(workers);
    scheduler.startPhase(phaseOwner(run, workers), first, 0);
    for (let task = scheduler.next('w0', 0); task; task = scheduler.next('w0', 0)) scheduler.submit('w0', taskKey(task), await worker!.compute(task, run.currentParams(), arena), false, 1);
    expect(run.done).toBe(true);
    // Reference: PyTorch-mean gradients of the whole batch at once, one SGD step.
    const reference = await TrainingRunner.open(meanGraph, cpuDevice());
    const all = gatherBatch(ds, Uint32Array.from({ length: n }, (_, i) => i));
    const g = await reference.step(all, 0);
    meanGraph.params.forEach((p, k) => {
      const expected = p.init.map((w, i) => w - lr * g.grads[k]![i]!);
      const got = run.params[k]!;
      for (let i = 0; i < got.length; i++) expect(got[i]).toBeCloseTo(expected[i]!, 6);
    });
  });
});
