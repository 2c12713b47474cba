/**
 * Bagging without sockets: the members buildEnsemble makes, driven through one Scheduler by W
 * simulated workers (real onnxruntime sessions) that finish their tasks in a seeded random order.
 *
 * Checked by counting what the workers were given: each member trains, every epoch, on exactly
 * its planned bootstrap sample (round(fraction·n) draws, repeats included) and is scored on
 * exactly the training samples it never drew; every member's final parameters are bit-identical
 * for 1 and 3 workers (one task per step, or one per micro-batch; with shared and with
 * per-member initial weights); no worker idles while any member has an untaken task, and a
 * member that stopped early gets no more work; the ensemble model loads in onnxruntime and its
 * probabilities equal the mean of the members' own models' softmax outputs.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import * as ort from 'onnxruntime-node';
import { pino } from 'pino';
import { loadJob, parseJob, type LoadedJob } from '../../coordinator/job/load.js';
import type { JobInput } from '../../coordinator/job/schema.js';
import { buildEnsemble, buildRuns } from '../../coordinator/run/build-runs.js';
import { RunDirectory } from '../../coordinator/run/outputs.js';
import { Scheduler } from '../../coordinator/dispatch/scheduler.js';
import { taskKey, type TaskResult, type TaskSpec } from '../../coordinator/run/task.js';
import { Arena } from '../../shared/kernels/index.js';
import { openWorkers, phaseOwner, tasksFor } from './simulated-workers.js';
import type { EnsembleSummary } from '../../coordinator/run/ensemble.js';
import { EnsembleError } from '../../coordinator/run/ensemble-errors.js';
import { bootstrapSample } from '../../coordinator/plan/bootstrap.js';
import { gatherBatch } from '../../shared/data/batch.js';
import { Rng } from '../../shared/random.js';

const log = pino({ level: 'silent' });

function ensembleJob(overrides: Partial<JobInput> = {}): JobInput {
  return {
    name: 'bag',
    seed: 5,
    data: { source: 'digits', limit: 500, split: { validation: 100, test: 100 } },
    batch: { global: 64, micro: 16 },
    epochs: 2,
    optimizer: { kind: 'adam', lr: 0.003 },
    eval: { every: 'epoch', batch: 40 },
    ensemble: { members: 3, sample_fraction: 0.8, seed: 21 },
    ...overrides,
  };
}

async function load(input: JobInput): Promise<LoadedJob> {
  return loadJob(parseJob(input, 'test'), 'test', process.cwd());
}

interface Given {
  round: number;
  worker: string;
  task: TaskSpec;
}

/** Runs every member to its end with W simulated workers; returns what each worker was given and the job's outputs. */
async function simulate(job: LoadedJob, workers: number, orderSeed: number) {
  const dir = mkdtempSync(join(tmpdir(), 'gf-bagging-'));
  const deferred: Promise<unknown>[] = [];
  const arena = Arena.growable();
  const ensemble = buildEnsemble(job, { out: new RunDirectory(dir), arena, log, now: () => performance.now(), workers: () => ({ registrations: workers, connected: workers }), defer: (_, work) => deferred.push(work) });
  const runs = new Map(ensemble.members.map((m) => [m.id, m]));
  const sims = await openWorkers(workers, job.training, job.evaluation, job.dataset, Math.ceil(job.config.batch.global / job.config.batch.micro));
  const scheduler = new Scheduler();
  // Each member's phases are grouped for the pool, as the dispatcher groups them.
  for (const m of ensemble.members) scheduler.startPhase(phaseOwner(m, workers), tasksFor(m.firstPhase(), workers), 0);
  const given: Given[] = [];
  /** Rounds in which a worker got nothing although a task was untaken. */
  const idleWithWork: number[] = [];
  /** Tasks handed out for a member after it was over. */
  const afterDone: TaskSpec[] = [];
  const rng = Rng.seeded(orderSeed);
  let clock = 0;
  for (let round = 0; scheduler.activeRuns > 0; round++) {
    const taken: { worker: (typeof sims)[number]; task: TaskSpec }[] = [];
    let idle = false;
    for (const worker of sims) {
      const task = scheduler.next(worker.id, clock);
      if (!task) idle = true;
      else {
        if (runs.get(task.runId)!.done) afterDone.push(task);
        taken.push({ worker, task });
        given.push({ round, worker: worker.id, task });
      }
    }
    // A worker went without: nothing may be left for it (the probe would take it).
    if (idle && scheduler.next('probe', clock) !== undefined) idleWithWork.push(round);
    const results: { worker: string; task: TaskSpec; result: TaskResult }[] = [];
    for (const { worker, task } of taken) results.push({ worker: worker.id, task, result: await worker.compute(task, runs.get(task.runId)!.currentParams(), arena) });
    for (const k of rng.permutation(results.length)) {
      const { worker, task, result } = results[k]!;
      scheduler.submit(worker, taskKey(task), result, false, ++clock);
    }
  }
  expect(deferred).toHaveLength(1);
  const summary = await ensemble.settled;
  const onDisk = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as EnsembleSummary;
  const hashes = ensemble.members.map((m) => {
    const h = createHash('sha256');
    for (const t of [...m.params, ...m.buffers]) h.update(Buffer.from(t.buffer, t.byteOffset, t.byteLength));
    return h.digest('hex');
  });
  return { dir, ensemble, summary, onDisk, given, idleWithWork, afterDone, hashes };
}

async function outputsOf(modelPath: string, feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.OnnxValueMapType> {
  const session = await ort.InferenceSession.create(modelPath);
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

describe('bagging ensemble (members over one Scheduler, simulated workers, real sessions)', () => {
  let job: LoadedJob;
  let one: Awaited<ReturnType<typeof simulate>>;
  let three: Awaited<ReturnType<typeof simulate>>;
  beforeAll(async () => {
    job = await load(ensembleJob());
    one = await simulate(job, 1, 1);
    three = await simulate(job, 3, 2);
  }, 240_000);

  it('trains each member every epoch on exactly its planned bootstrap sample, repeats included', () => {
    const n = job.trainIndices.length;
    const size = Math.round(0.8 * n);
    const stepsPerEpoch = Math.ceil(size / 64);
    for (const m of three.ensemble.members) {
      const planned = bootstrapSample(n, 0.8, 21, m.id).indices.map((pos) => job.trainIndices[pos]!);
      expect(planned.length).toBe(size);
      const want = countOf(planned);
      expect(Math.max(...want.values())).toBeGreaterThan(1); // a bootstrap with repeats, not a subset
      const train = three.given.filter((g) => g.task.runId === m.id && g.task.kind === 'train');
      for (let epoch = 0; epoch < 2; epoch++) {
        const used = train.filter((g) => Math.floor(Number(g.task.phase.split(':')[1]) / stepsPerEpoch) === epoch).flatMap((g) => samplesOf(g.task));
        expect(used.length).toBe(size);
        expect(countOf(used)).toEqual(want);
      }
      expect(m.summary().epoch_sample_counts).toEqual([
        { epoch: 0, samples: size, distinct: size, expected: size },
        { epoch: 1, samples: size, distinct: size, expected: size },
      ]);
    }
  });

  it('scores each member on exactly the training samples its bootstrap never drew', () => {
    const n = job.trainIndices.length;
    const all = new Set(job.trainIndices);
    for (const m of three.ensemble.members) {
      const drawn = new Set(three.given.filter((g) => g.task.runId === m.id && g.task.kind === 'train').flatMap((g) => samplesOf(g.task)));
      const oob = three.given.filter((g) => g.task.runId === m.id && g.task.split === 'oob').flatMap((g) => samplesOf(g.task));
      expect(new Set(oob).size).toBe(oob.length); // each out-of-bag sample scored once
      expect(oob.filter((i) => drawn.has(i))).toEqual([]);
      expect(oob.length + drawn.size).toBe(n);
      expect(new Set([...oob, ...drawn])).toEqual(all);
      const report = three.summary.members[m.id]!;
      expect(report.bootstrap).toEqual({ samples: Math.round(0.8 * n), distinct: drawn.size, out_of_bag: oob.length });
      expect(report.out_of_bag!.count).toBe(oob.length);
      expect(report.out_of_bag!.accuracy).toBeGreaterThan(0.5);
      // Order of the final evaluations: out-of-bag, then test; the test split is scored once.
      const finals = three.given.filter((g) => g.task.runId === m.id && g.task.kind === 'eval' && g.task.split !== 'validation');
      expect([...new Set(finals.map((g) => g.task.split))]).toEqual(['oob', 'test']);
    }
  });

  it('ends every member with bit-identical parameters for 1 and 3 workers, and the same ensemble', () => {
    expect(new Set(one.hashes).size).toBe(3); // members really differ
    expect(three.hashes).toEqual(one.hashes);
    expect(three.summary.ensemble.test).toEqual(one.summary.ensemble.test);
    expect(three.summary.members.map((m) => m.test)).toEqual(one.summary.members.map((m) => m.test));
    expect(readFileSync(join(three.dir, 'model.onnx'))).toEqual(readFileSync(join(one.dir, 'model.onnx')));
  });

  it('keeps every worker busy while any member has an untaken task', () => {
    expect(three.idleWithWork).toEqual([]);
    // Rounds interleave members: 3 workers took tasks of more than one member in the same round.
    const rounds = new Map<number, Set<number>>();
    for (const g of three.given) rounds.set(g.round, (rounds.get(g.round) ?? new Set()).add(g.task.runId));
    expect([...rounds.values()].some((s) => s.size > 1)).toBe(true);
  });

  it('writes an ensemble model whose probabilities are the mean of the members’ own models’ softmax outputs', async () => {
    const idx = job.testIndices;
    const batch = gatherBatch(job.dataset, idx);
    const x = new ort.Tensor('float32', batch.x, [batch.count, 784]);
    const ens = await outputsOf(join(three.dir, 'model.onnx'), { x });
    const probabilities = ens.probabilities!.data as Float32Array;
    const mean = new Float64Array(batch.count * 10);
    for (let k = 0; k < 3; k++) {
      const logits = (await outputsOf(join(three.dir, 'members', String(k), 'model.onnx'), { x })).logits!.data as Float32Array;
      for (let r = 0; r < batch.count; r++) {
        const row = Array.from(logits.subarray(r * 10, r * 10 + 10));
        const max = Math.max(...row);
        const e = row.map((v) => Math.exp(v - max));
        const z = e.reduce((a, b) => a + b, 0);
        e.forEach((v, c) => (mean[r * 10 + c]! += v / z / 3));
      }
    }
    let maxDiff = 0;
    for (let i = 0; i < mean.length; i++) maxDiff = Math.max(maxDiff, Math.abs(probabilities[i]! - mean[i]!));
    expect(maxDiff).toBeLessThan(1e-6);
    // The reported ensemble test metrics are those of this model on the test split.
    let hits = 0;
    let nll = 0;
    for (let r = 0; r < batch.count; r++) {
      const label = Number((batch.y as BigInt64Array)[r]);
      const row = Array.from(probabilities.subarray(r * 10, r * 10 + 10));
      if (row.indexOf(Math.max(...row)) === label) hits++;
      nll -= Math.log(row[label]!);
    }
    const test = three.summary.ensemble.test!;
    expect(test.count).toBe(100);
    expect(test.accuracy).toBe(hits / 100);
    expect(test.nll!).toBeCloseTo(nll / 100, 9);
  });

  it('reports every member and the ensemble in the job summary', () => {
    const s = three.onDisk;
    expect(s.kind).toBe('ensemble');
    expect(s.status).toBe('done');
    expect(s.ensemble).toMatchObject({ members: 3, sample_fraction: 0.8, seed: 21, predict: 'average', init: 'shared', model: 'model.onnx', members_in_model: [0, 1, 2], scored_head: 'out', evaluation: 'done' });
    expect(s.ensemble.validation!.count).toBe(100);
    expect(s.members.map((m) => m.dir)).toEqual(['members/0', 'members/1', 'members/2']);
    expect(s.members.map((m) => m.init_seed)).toEqual([5, 5, 5]); // init: shared — the job's seed
    const accuracies = s.members.map((m) => m.test!.accuracy!);
    expect(s.comparison.test_accuracy.best_member!.accuracy).toBe(Math.max(...accuracies));
    expect(s.comparison.test_accuracy.mean_member).toBeCloseTo(accuracies.reduce((a, b) => a + b) / 3, 12);
    expect(s.comparison.test_accuracy.ensemble).toBe(s.ensemble.test!.accuracy);
    for (let k = 0; k < 3; k++) {
      const member = JSON.parse(readFileSync(join(three.dir, 'members', String(k), 'summary.json'), 'utf8'));
      expect(member).toMatchObject({ run: `member-${k}`, member: k, status: 'done', bootstrap: s.members[k]!.bootstrap, out_of_bag: s.members[k]!.out_of_bag });
      const evals = readFileSync(join(three.dir, 'members', String(k), 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.type === 'eval');
      expect(evals.map((e) => e.split)).toEqual(['validation', 'validation', 'oob', 'test']);
    }
  });
});

describe('bagging with init: per_member', () => {
  it('ends every member with bit-identical parameters for 1 and 3 workers, members started from their own draws', async () => {
    const job = await load(
      ensembleJob({
        model: { spec: { input: { name: 'x', shape: [784] }, layers: [{ type: 'dense', name: 'fc1', units: 24 }, { type: 'relu' }, { type: 'dropout', p: 0.2 }, { type: 'dense', name: 'fc2', units: 10 }], loss: 'cross-entropy' } },
        data: { source: 'digits', limit: 300, split: { validation: 50, test: 50 } },
        epochs: 1,
        ensemble: { members: 3, sample_fraction: 0.8, seed: 21, init: 'per_member' },
      }),
    );
    const one = await simulate(job, 1, 3);
    const three = await simulate(job, 3, 4);
    expect(new Set(one.hashes).size).toBe(3);
    expect(three.hashes).toEqual(one.hashes);
    expect(three.summary.members.map((m) => m.test)).toEqual(one.summary.members.map((m) => m.test));
    expect(three.summary.ensemble).toMatchObject({ init: 'per_member', evaluation: 'done', test: one.summary.ensemble.test });
    expect(new Set(three.summary.members.map((m) => m.init_seed)).size).toBe(3);
    expect(readFileSync(join(three.dir, 'model.onnx'))).toEqual(readFileSync(join(one.dir, 'model.onnx')));
  }, 120_000);
});

describe('bagging with early stopping', () => {
  it('gives the workers of a member that stopped early to the members still training', async () => {
    const job = await load(ensembleJob({ epochs: 4, eval: { every: 2, batch: 50 }, early_stopping: { monitor: 'val_accuracy', patience: 1 }, ensemble: { members: 3, seed: 4, predict: 'vote' } }));
    const r = await simulate(job, 3, 9);
    const steps = r.ensemble.members.map((m) => m.globalStep);
    const stopped = r.ensemble.members.filter((m) => m.stopReason.startsWith('early stopping'));
    expect(stopped.length).toBeGreaterThan(0);
    expect(new Set(steps).size).toBeGreaterThan(1); // members stopped at different steps
    expect(r.afterDone).toEqual([]);
    expect(r.idleWithWork).toEqual([]);
    // After the first member ended, the others' tasks went to every worker.
    const first = Math.min(...steps);
    const firstDone = r.ensemble.members.find((m) => m.globalStep === first)!;
    const lastRound = Math.max(...r.given.filter((g) => g.task.runId === firstDone.id).map((g) => g.round));
    const later = r.given.filter((g) => g.round > lastRound);
    expect(later.length).toBeGreaterThan(0);
    expect(new Set(later.map((g) => g.worker))).toEqual(new Set(['w0', 'w1', 'w2']));
    expect(r.summary.members.every((m) => m.out_of_bag !== null && m.test !== null)).toBe(true);

    // predict: vote — the reported test accuracy is that of the members' majority (ties to the lowest class).
    const batch = gatherBatch(job.dataset, job.testIndices);
    const x = new ort.Tensor('float32', batch.x, [batch.count, 784]);
    const votes = new Float64Array(batch.count * 10);
    for (let k = 0; k < 3; k++) {
      const logits = (await outputsOf(join(r.dir, 'members', String(k), 'model.onnx'), { x })).logits!.data as Float32Array;
      for (let i = 0; i < batch.count; i++) {
        const row = Array.from(logits.subarray(i * 10, i * 10 + 10));
        votes[i * 10 + row.indexOf(Math.max(...row))]!++;
      }
    }
    let hits = 0;
    for (let i = 0; i < batch.count; i++) {
      const row = Array.from(votes.subarray(i * 10, i * 10 + 10));
      if (row.indexOf(Math.max(...row)) === Number((batch.y as BigInt64Array)[i])) hits++;
    }
    expect(r.summary.ensemble).toMatchObject({ predict: 'vote', evaluation: 'done', test: { count: 100, accuracy: hits / 100, nll: null } });
  }, 240_000);
});

describe('bagging job configuration', () => {
  it('names the field and the bad value', () => {
    expect(() => parseJob(ensembleJob({ ensemble: { members: 1 } }), 'job.yaml')).toThrow(/ensemble\.members must be >= 2, got 1/);
    expect(() => parseJob(ensembleJob({ ensemble: { members: 3, sample_fraction: 0 } }), 'job.yaml')).toThrow(/ensemble\.sample_fraction must be > 0, got 0/);
    expect(() => parseJob(ensembleJob({ ensemble: { members: 3, sample_fraction: 1.5 } }), 'job.yaml')).toThrow(/ensemble\.sample_fraction must be <= 1, got 1\.5/);
    expect(() => parseJob(ensembleJob({ ensemble: { members: 3, predict: 'median' as 'vote' } }), 'job.yaml')).toThrow(/ensemble\.predict must be one of "average", "vote"/);
    expect(() => parseJob(ensembleJob({ ensemble: { members: 3, bag: true } as never }), 'job.yaml')).toThrow(/ensemble has unknown field 'bag'/);
    expect(parseJob(ensembleJob({ ensemble: { members: 4 } }), 'job.yaml').ensemble).toEqual({ members: 4, sample_fraction: 1, predict: 'average', init: 'shared' });
  });

  it('refuses a vote over a regression head before any training', async () => {
    const job = await load(
      ensembleJob({
        model: { spec: { input: { name: 'x', shape: [784] }, layers: [{ type: 'dense', name: 'fc', units: 1 }], loss: 'mse' } },
        data: { source: 'digits', limit: 200, split: { validation: 50, test: 50 } },
        ensemble: { members: 2, predict: 'vote' },
      }),
    );
    const dir = mkdtempSync(join(tmpdir(), 'gf-bagging-'));
    expect(() => buildRuns(job, { out: new RunDirectory(dir), arena: Arena.growable(), log, now: () => 0, workers: () => ({ registrations: 0, connected: 0 }) })).toThrow(EnsembleError);
    expect(() => buildRuns(job, { out: new RunDirectory(dir), arena: Arena.growable(), log, now: () => 0, workers: () => ({ registrations: 0, connected: 0 }) })).toThrow(/ensemble\.predict 'vote' needs classification \(cross-entropy\) heads; head 'out' has a mse loss/);
  });
});

/** Every sample a task holds, leaf after leaf. */
function samplesOf(task: TaskSpec): number[] {
  return task.leaves.flatMap((l) => [...l.indices]);
}

function countOf(xs: ArrayLike<number>): Map<number, number> {
  const m = new Map<number, number>();
  for (let i = 0; i < xs.length; i++) m.set(xs[i]!, (m.get(xs[i]!) ?? 0) + 1);
  return new Map([...m.entries()].sort((a, b) => a[0] - b[0]));
}
