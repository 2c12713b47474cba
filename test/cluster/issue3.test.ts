/**
 * Issue 3's "what done looks like", with real processes on 127.0.0.1 (a coordinator child
 * process and worker child processes, through test/cluster/harness.ts):
 *
 *  - the default model on the default data reaches > 0.95 test accuracy, and the run directory
 *    holds what the README promises (metrics.jsonl, summary.json, a model.onnx that
 *    onnxruntime-node loads and that scores the summary's test accuracy);
 *  - 1, 2 and 4 workers end with bit-identical parameters and byte-identical model.onnx;
 *  - every epoch uses each training sample exactly once, a last partial batch included;
 *  - early stopping stops on a plateau and restores the weights of the best step.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { defaultJob } from '../../coordinator/job/default-job.js';
import { loadJob, parseJob, type LoadedJob } from '../../coordinator/job/load.js';
import type { JobInput } from '../../coordinator/job/schema.js';
import { decodeCheckpoint } from '../../coordinator/checkpoint/file.js';
import type { RunCheckpointMeta, RunSummary } from '../../coordinator/run/run-records.js';
import { exportInference } from '../../shared/autodiff/export.js';
import { encodeModel } from '../../shared/onnx/model.js';
import { readFinalParams, readMetrics, runCluster, tinyJob, type ClusterResult } from './harness.js';

type Summary = RunSummary & { worker_registrations: number };

const readSummary = (runDir: string) => JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as Summary;
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const stepLines = (runDir: string) => readMetrics(runDir).filter((m) => m.type === 'step');
const evalLines = (runDir: string, split?: string) => readMetrics(runDir).filter((m) => m.type === 'eval' && (split === undefined || m.split === split));

/** Same job and data as the coordinator sees them: graphs, forward model, split indices. */
const loadSameJob = (job: JobInput): Promise<LoadedJob> => loadJob(parseJob(job, 'test job'), 'test job', process.cwd());

/** Runs the first output of an inference model on `rows` samples of the job's dataset. */
async function predict(model: Uint8Array, loaded: LoadedJob, indices: Uint32Array): Promise<Float32Array> {
  const width = loaded.dataset.featureShape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(indices.length * width);
  indices.forEach((idx, row) => x.set(loaded.dataset.features.subarray(idx * width, (idx + 1) * width), row * width));
  const session = await ort.InferenceSession.create(model);
  try {
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, [indices.length, ...loaded.dataset.featureShape]) });
    return out[session.outputNames[0]!]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

function argmaxAccuracy(logits: Float32Array, classes: number, labels: ArrayLike<number>, indices: Uint32Array): number {
  let correct = 0;
  indices.forEach((idx, row) => {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[row * classes + c]! > logits[row * classes + best]!) best = c;
    if (best === labels[idx]) correct++;
  });
  return correct / indices.length;
}

/** Params then buffers of a checkpoint, hashed as final-params.json hashes them. */
function checkpointAt(runDir: string, step: number) {
  const file = join(runDir, 'checkpoints', `ckpt-${String(step).padStart(10, '0')}.gfck`);
  const c = decodeCheckpoint<RunCheckpointMeta>(readFileSync(file), file);
  const { params: np, buffers: nb } = c.meta.counts;
  const params = c.tensors.slice(0, np);
  const buffers = c.tensors.slice(np, np + nb);
  const h = createHash('sha256');
  for (const t of [...params, ...buffers]) h.update(new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
  return { meta: c.meta, params, buffers, sha256: h.digest('hex') };
}

function expectCleanExit(r: ClusterResult, workers: number): void {
  expect(r.exitCode, `${r.coordinator.stdout}\n${r.coordinator.stderr}`).toBe(0);
  expect(r.workers.map((w) => w.code)).toEqual(Array(workers).fill(0));
}

describe('the default model and data on a coordinator with two worker processes', () => {
  // The embedded default job (coordinator/job/default-job.ts) with one change: at most 8 epochs
  // instead of 30. The full job early-stops after 15 epochs (best validation accuracy at epoch
  // 12, test accuracy 0.965), 100–120 s on two shared cores; 8 epochs take 40–65 s and end at
  // 0.964 test accuracy with the best weights (epoch 7) restored. Everything else — model,
  // bundled digits, split, seed, batch 128 in micro-batches of 32, Adam, early stopping on
  // validation accuracy with restore_best — is the default.
  const job: JobInput = { ...defaultJob(), epochs: 8 };
  let r: ClusterResult;
  let loaded: LoadedJob;

  beforeAll(async () => {
    r = await runCluster({ job, workers: 2, timeoutMs: 240_000 });
    loaded = await loadSameJob(job);
  }, 300_000);

  it('reaches more than 0.95 test accuracy, and draws no progress line when stdout is not a terminal', () => {
    expectCleanExit(r, 2);
    const summary = readSummary(r.runDir);
    expect(summary.status).toBe('done');
    expect(summary.test!.count).toBe(loaded.testIndices.length);
    expect(summary.test!.accuracy).toBeGreaterThan(0.95);
    // No progress line on a pipe: no carriage returns, no escape codes, no ETA; the closing lines as usual.
    const stdout = r.coordinator.stdout;
    expect(stdout).not.toMatch(/[\r\x1b]|ETA/);
    expect(stdout).toMatch(/^coordinator listening on 127\.0\.0\.1:\d+ \(job digits-mlp-[0-9a-f]+, 235,146 parameters in 6 tensors, 8000 training samples\)\n/);
    // The closing summary: what summary.json says, where the model went, then the last two lines.
    expect(stdout).toContain(`digits-mlp: done: ${summary.stop_reason}\n`);
    expect(stdout).toContain(`  test: loss ${Number(summary.test!.loss.toPrecision(4))}, accuracy ${summary.test!.accuracy} (${loaded.testIndices.length.toLocaleString('en-US')} samples)\n`);
    expect(stdout).toContain(`  model: ${r.runDir}/model.onnx\n`);
    expect(stdout.endsWith(`job finished: every run is done (digits-mlp)\nrun directory: ${r.runDir}\n`)).toBe(true);
  });

  it('writes a metrics line per step with loss, grad norms, lr and samples/s, and a line per evaluation', () => {
    const steps = stepLines(r.runDir);
    const summary = readSummary(r.runDir);
    expect(steps.map((s) => s.step)).toEqual(Array.from({ length: summary.steps }, (_, i) => i + 1));
    for (const s of steps) {
      for (const key of ['epoch', 'loss', 'grad_norm', 'grad_norm_clipped', 'lr', 'samples', 'samples_per_s']) expect(Number.isFinite(s[key]), `step ${s.step} ${key}`).toBe(true);
      // No clipping in the default job: the norm after clipping is the norm before.
      expect(s.grad_norm_clipped).toBe(s.grad_norm);
      expect(s.lr).toBe(0.001);
    }
    // Validation once per epoch (1,000 samples), then the test split (1,000) after the last step.
    const validation = evalLines(r.runDir, 'validation');
    expect(validation.map((e) => e.step)).toEqual(Array.from({ length: summary.epochs_completed }, (_, i) => (i + 1) * 63));
    for (const e of validation) expect(e).toMatchObject({ count: 1000, accuracy: expect.any(Number), loss: expect.any(Number) });
    expect(evalLines(r.runDir, 'test')).toEqual([expect.objectContaining({ step: summary.steps, count: 1000 })]);
  });

  it('writes a summary with the best step, the stop reason, final metrics, wall time and worker registrations', () => {
    const s = readSummary(r.runDir);
    const validation = evalLines(r.runDir, 'validation');
    expect(s).toMatchObject({ steps: 8 * 63, epochs_completed: 8, stop_reason: 'completed 504 steps (8 epochs)', monitor: 'val_accuracy', skipped_steps: 0, worker_registrations: 2 });
    // The best step is an evaluation whose accuracy no other one beats by more than min_delta (0.001).
    const best = validation.find((e) => e.step === s.best_step)!;
    expect(best.accuracy).toBe(s.best_metric);
    for (const e of validation) expect(e.accuracy as number).toBeLessThanOrEqual((s.best_metric as number) + 0.001 + 1e-12);
    // The final weights are the best evaluation's (restored), so final_validation is that evaluation;
    // last_validation is the last one, of the weights before the restore.
    const restored = s.best_step !== s.steps;
    const finalEval = restored ? best : validation.at(-1)!;
    expect(s.final_validation).toMatchObject({ accuracy: finalEval.accuracy, loss: finalEval.loss, count: 1000 });
    expect(s.last_validation).toMatchObject({ accuracy: validation.at(-1)!.accuracy, loss: validation.at(-1)!.loss, count: 1000 });
    expect(s.wall_time_s).toBeGreaterThan(0);
  });

  it("exports a model.onnx that onnxruntime-node loads and that scores the summary's test accuracy on the test split", async () => {
    const logits = await predict(readFileSync(join(r.runDir, 'model.onnx')), loaded, loaded.testIndices);
    expect(logits.length).toBe(loaded.testIndices.length * 10);
    const accuracy = argmaxAccuracy(logits, 10, loaded.dataset.labels, loaded.testIndices);
    expect(accuracy).toBe(readSummary(r.runDir).test!.accuracy);
  });
});

/**
 * A small job with every source of nondeterminism switched on: dropout, clipping that bites,
 * AdamW with weight decay, 4 micro-batches per step, and 410 training samples, so each epoch
 * ends in a partial batch of 26 (micro-batches of 16 and 10).
 */
const reproJob = (): JobInput =>
  tinyJob({
    name: 'repro',
    model: {
      spec: {
        input: { name: 'x', shape: [784] },
        layers: [{ type: 'dense', name: 'fc1', units: 32 }, { type: 'relu' }, { type: 'dropout', p: 0.3 }, { type: 'dense', name: 'fc2', units: 10 }],
        loss: 'cross-entropy',
      },
    },
    data: { source: 'digits', limit: 610, split: { validation: 100, test: 100 } },
    batch: { global: 64, micro: 16 },
    epochs: 2,
    optimizer: { kind: 'adamw', lr: 0.01, weight_decay: 0.01 },
    clip: { max_norm: 0.5 },
  });

describe('1, 2 and 4 worker processes on one job', () => {
  const counts = [1, 2, 4] as const;
  const results = new Map<number, ClusterResult>();

  beforeAll(async () => {
    for (const n of counts) results.set(n, await runCluster({ job: reproJob(), workers: n, timeoutMs: 60_000 }));
  }, 200_000);

  it('end with bit-identical parameters and byte-identical model.onnx', () => {
    for (const n of counts) expectCleanExit(results.get(n)!, n);
    const finals = counts.map((n) => readFinalParams(results.get(n)!.runDir));
    // 784·32 + 32 + 32·10 + 10 values; one version per step: 2 epochs of 7 steps.
    expect(finals[0]).toEqual([expect.objectContaining({ version: 14, values: 25450 })]);
    for (const f of finals.slice(1)) expect(f).toEqual(finals[0]);
    const models = counts.map((n) => sha256(readFileSync(join(results.get(n)!.runDir, 'model.onnx'))));
    expect(new Set(models).size).toBe(1);
    // The trajectory too, step by step, not only where it ended.
    const trajectory = (n: number) => stepLines(results.get(n)!.runDir).map((s) => [s.loss, s.grad_norm, s.grad_norm_clipped, s.lr]);
    for (const n of counts.slice(1)) expect(trajectory(n)).toEqual(trajectory(1));
    for (const n of counts) expect(readSummary(results.get(n)!.runDir).worker_registrations).toBe(n);
  });

  it('clipped by global norm (the identity is not a trivial one of unclipped steps)', () => {
    const steps = stepLines(results.get(1)!.runDir);
    const clipped = steps.filter((s) => (s.grad_norm as number) > 0.5);
    expect(clipped.length).toBeGreaterThan(0);
    // Scaled to the max norm, up to the float32 rounding of the scaled gradients.
    for (const s of clipped) expect(s.grad_norm_clipped).toBeCloseTo(0.5, 5);
  });

  it('use every training sample exactly once per epoch, a last partial batch included', () => {
    for (const n of counts) {
      const dir = results.get(n)!.runDir;
      expect(readSummary(dir).epoch_sample_counts).toEqual([
        { epoch: 0, samples: 410, distinct: 410, expected: 410 },
        { epoch: 1, samples: 410, distinct: 410, expected: 410 },
      ]);
      for (const epoch of [0, 1]) {
        const steps = stepLines(dir).filter((s) => s.epoch === epoch);
        // 6 full batches of 64 and a last one of 26, weighted by its true size.
        expect(steps.map((s) => s.samples)).toEqual([64, 64, 64, 64, 64, 64, 26]);
      }
    }
  });
});

describe('early stopping on a plateau', () => {
  // SGD at lr 0.1 for 4 steps, then lr 1e-5 (step schedule, γ = 1e-4): the parameters keep
  // moving (every step changes their bits) but the validation loss improves by far less than
  // min_delta. Evaluations every 2 steps: steps 2 and 4 improve, 6 and 8 do not → patience 2
  // stops at step 8 and restores the weights of step 4. A checkpoint every step lets the test
  // see the parameters of every step.
  const job = tinyJob({
    name: 'plateau',
    epochs: 3,
    optimizer: { kind: 'sgd', lr: 0.1 },
    schedule: { kind: 'step', step_size: 4, gamma: 1e-4 },
    eval: { every: 2 },
    early_stopping: { monitor: 'val_loss', patience: 2, min_delta: 1e-3, restore_best: true },
    checkpoint: { every_steps: 1, keep: 100 },
  });
  let r: ClusterResult;

  beforeAll(async () => {
    r = await runCluster({ job, workers: 2, timeoutMs: 60_000 });
  }, 90_000);

  it('stops once the validation loss has not improved for `patience` evaluations', () => {
    expectCleanExit(r, 2);
    const s = readSummary(r.runDir);
    expect(s.stop_reason).toMatch(/^early stopping: val_loss did not improve by more than 0\.001 for 2 evaluations/);
    expect(s).toMatchObject({ status: 'done', steps: 8, best_step: 4, monitor: 'val_loss' });
    expect(s.best_step!).toBeLessThan(s.steps);
    const losses = evalLines(r.runDir, 'validation').map((e) => [e.step, e.loss] as [number, number]);
    expect(losses.map(([step]) => step)).toEqual([2, 4, 6, 8]);
    const best = losses[1]![1];
    expect(s.best_metric).toBe(best);
    // A plateau: later evaluations are within min_delta of the best, not a divergence.
    for (const [, loss] of losses.slice(2)) expect(Math.abs(loss - best)).toBeLessThan(1e-3);
    const lrs = stepLines(r.runDir).map((l) => l.lr as number);
    expect(lrs).toHaveLength(8);
    lrs.forEach((lr, i) => expect(lr).toBeCloseTo(i < 4 ? 0.1 : 1e-5, 12));
  });

  it('restores the parameters of the best step: final params and model.onnx are those of step 4', async () => {
    const best = checkpointAt(r.runDir, 4);
    const later = checkpointAt(r.runDir, 7);
    expect(best.meta.globalStep).toBe(4);
    // Training went on after the best step (the parameters changed)...
    expect(later.sha256).not.toBe(best.sha256);
    // ...and the run ended on the best step's parameters.
    expect(readFinalParams(r.runDir)).toEqual([expect.objectContaining({ sha256: best.sha256 })]);
    const loaded = await loadSameJob(job);
    const exportFrom = (c: ReturnType<typeof checkpointAt>) =>
      encodeModel(exportInference(loaded.forward, new Map(loaded.training.params.map((p, i) => [p.name, c.params[i]!])), new Map(loaded.training.buffers.map((b, i) => [b.name, c.buffers[i]!]))));
    const samples = loaded.testIndices.subarray(0, 16);
    const fromModel = await predict(readFileSync(join(r.runDir, 'model.onnx')), loaded, samples);
    expect(fromModel).toEqual(await predict(exportFrom(best), loaded, samples));
    expect(fromModel).not.toEqual(await predict(exportFrom(later), loaded, samples));
    // The test split was scored with the restored weights.
    const testLogits = await predict(readFileSync(join(r.runDir, 'model.onnx')), loaded, loaded.testIndices);
    expect(readSummary(r.runDir).test!.accuracy).toBe(argmaxAccuracy(testLogits, 10, loaded.dataset.labels, loaded.testIndices));
  });
});
