/**
 * `ensemble.init`: where bagging members' initial weights come from.
 *
 *   - shared: every member starts from the job's initial values, which are the model spec's drawn
 *     with the job's seed; per_member: member k starts from the spec drawn with its own seed,
 *     deriveSeed(ensemble seed, 'bootstrap', k) — for the default model, a spec file and an
 *     inline spec (with batch norm, whose statistics are constants); weights frozen by
 *     `model.freeze` are constants of the one training graph and stay the job's;
 *   - per_member with a model given as an ONNX file is refused when the job is validated, naming
 *     `ensemble.init` and its YAML line;
 *   - a run directory whose job-identity.json was written before the field existed (no `init` in
 *     its config) resumes under the same config, with or without `init: shared`, and is refused,
 *     naming the field, under `init: per_member`;
 *   - a per_member ensemble stopped with one member done, one mid-training and one before its
 *     first checkpoint, then rebuilt and restored from its checkpoints (the last starting over),
 *     ends with the parameters of an uninterrupted one, bit for bit, also when the restarted
 *     coordinator groups the steps into more tasks (a larger pool) that arrive in another order.
 *     Results are made up (deterministic, parameter-dependent) as in resume-outputs.test.ts.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { pino } from 'pino';
import { loadJob, parseJob, readJobFile, type LoadedJob } from '../../coordinator/job/load.js';
import type { JobInput } from '../../coordinator/job/schema.js';
import { buildEnsemble } from '../../coordinator/run/build-runs.js';
import { RunDirectory } from '../../coordinator/run/outputs.js';
import type { TrainingRun } from '../../coordinator/run/training-run.js';
import { arena, atPhase, drive } from './made-up-results.js';
import { findCheckpoints, restoreRuns } from '../../coordinator/checkpoint/resume.js';
import { IDENTITY_FILE, NOT_FINGERPRINTED, RunDirectoryError, fingerprint, readIdentity, sortKeys, writeIdentity } from '../../coordinator/run-dir/job-identity.js';
import { SeedStream, deriveSeed } from '../../coordinator/plan/seeds.js';
import { buildForwardModel } from '../../shared/model/build.js';
import { defaultModelSpec } from '../../shared/model/defaults.js';
import { toFloat32 } from '../../shared/onnx/tensor.js';

const log = pino({ level: 'silent' });
const tmp = () => mkdtempSync(join(tmpdir(), 'gf-bagging-init-'));

/** A small model with a batch-norm buffer pair; its spec seed is not the one initialisation uses. */
const SMALL_SPEC = {
  input: { name: 'x', shape: [784] },
  layers: [{ type: 'dense', name: 'fc1', units: 6 }, { type: 'batch_norm', name: 'bn' }, { type: 'relu' }, { type: 'dense', name: 'fc2', units: 10 }],
  loss: 'cross-entropy',
  seed: 999,
};

function job(overrides: Partial<JobInput> = {}, ensemble: Record<string, unknown> = {}): JobInput {
  return {
    name: 'bag-init',
    seed: 5,
    model: { spec: SMALL_SPEC },
    data: { source: 'digits', limit: 160, split: { validation: 30, test: 30 } },
    batch: { global: 32, micro: 16 },
    epochs: 2,
    optimizer: { kind: 'sgd', lr: 0.01 },
    eval: { every: 'epoch', batch: 20 },
    checkpoint: { every_steps: 2, keep: 3 },
    ensemble: { members: 3, sample_fraction: 0.8, seed: 21, ...ensemble },
    ...overrides,
  } as JobInput;
}

async function load(input: JobInput, baseDir = process.cwd()): Promise<LoadedJob> {
  return loadJob(parseJob(input, 'test'), 'test', baseDir);
}

function ensembleIn(j: LoadedJob, dir = tmp()) {
  return buildEnsemble(j, { out: new RunDirectory(dir), arena, log, now: () => 0, workers: () => ({ registrations: 1, connected: 1 }) });
}

/** Every initializer of the spec built with `seed`, by name. */
function freshInit(spec: object, seed: number): Map<string, Float32Array> {
  return new Map(buildForwardModel(spec as never, { seed }).model.graph!.initializer.map((t) => [t.name, toFloat32(t)]));
}

/** A member's starting values, by parameter and buffer name. */
function initialOf(j: LoadedJob, run: TrainingRun): Map<string, Float32Array> {
  const { params, buffers } = run.currentParams();
  return new Map([...j.training.params.map((p, i) => [p.name, params[i]!] as const), ...j.training.buffers.map((b, i) => [b.name, buffers[i]!] as const)]);
}

describe('members’ initial weights', () => {
  const memberSeed = (k: number) => deriveSeed(21, SeedStream.bootstrap, k);

  it.each([
    ['an inline spec (with batch norm)', { spec: SMALL_SPEC }, SMALL_SPEC],
    ['the default model', { spec: 'default' }, defaultModelSpec()],
    ['a spec file', { spec: 'small.json' }, SMALL_SPEC],
  ] as const)('per_member, %s: members differ, and each is the spec drawn with its own seed; shared: each is the spec drawn with the job’s seed', async (_, model, spec) => {
    const baseDir = tmp();
    writeFileSync(join(baseDir, 'small.json'), JSON.stringify(SMALL_SPEC));
    const perMember = await load(job({ model }, { init: 'per_member' }), baseDir);
    const shared = await load(job({ model }), baseDir);
    expect(shared.config.ensemble!.init).toBe('shared');

    const drawn = ensembleIn(perMember).members.map((m) => initialOf(perMember, m));
    const weights = perMember.training.params.filter((p) => p.kind === 'weight').map((p) => p.name);
    expect(weights.length).toBeGreaterThan(1);
    for (let k = 0; k < 3; k++) {
      const want = freshInit(spec, memberSeed(k));
      expect(drawn[k]!.size).toBe(perMember.training.params.length + perMember.training.buffers.length);
      for (const [name, values] of drawn[k]!) expect(sameBits(values, want.get(name)), `member ${k} ${name}`).toBe(true);
      // Weights are random draws: no two members share one; biases and buffers are constants.
      for (let other = 0; other < k; other++) for (const name of weights) expect(sameBits(drawn[k]!.get(name)!, drawn[other]!.get(name)), `members ${other} and ${k}: ${name}`).toBe(false);
    }

    const job5 = freshInit(spec, 5);
    for (const m of ensembleIn(shared).members) for (const [name, values] of initialOf(shared, m)) expect(sameBits(values, job5.get(name)), `member ${m.id} ${name}`).toBe(true);
  }, 60_000);

  it('per_member with model.freeze: the frozen weights stay the job’s (constants of the shared training graph), the trained ones are redrawn', async () => {
    const j = await load(job({ model: { spec: SMALL_SPEC, freeze: '^fc1\\.' } }, { init: 'per_member' }));
    expect(j.training.params.map((p) => p.name)).toEqual(['bn.weight', 'bn.bias', 'fc2.weight', 'fc2.bias']);
    const frozen = j.training.model.graph!.initializer.find((t) => t.name === 'fc1.weight')!;
    expect(sameBits(toFloat32(frozen), freshInit(SMALL_SPEC, 5).get('fc1.weight'))).toBe(true);
    for (const m of ensembleIn(j).members) expect(sameBits(initialOf(j, m).get('fc2.weight')!, freshInit(SMALL_SPEC, memberSeed(m.id)).get('fc2.weight'))).toBe(true);
  });

  it('records the mode in the job summary and each member’s init seed', async () => {
    for (const init of ['shared', 'per_member'] as const) {
      const j = await load(job({ epochs: 1, max_steps: 1, data: { source: 'digits', limit: 100, split: { validation: 10, test: 10 } } }, { members: 2, init }));
      const e = ensembleIn(j);
      for (const m of e.members) await drive(m, m.firstPhase());
      const s = await e.settled;
      expect(s.ensemble.init).toBe(init);
      expect(s.members.map((m) => m.init_seed)).toEqual(init === 'shared' ? [5, 5] : [memberSeed(0), memberSeed(1)]);
    }
  }, 60_000);
});

describe('ensemble.init with an ONNX model', () => {
  it('is refused for per_member, naming the field and its line; shared is accepted', () => {
    const onnxJob = (init?: string) => ({ model: { onnx: 'model.onnx' }, ensemble: { members: 3, ...(init ? { init } : {}) } });
    expect(() => parseJob(onnxJob('per_member'), 'job.yaml')).toThrow(/ensemble\.init must be "shared" with an ONNX model \(model\.onnx\): its initializers are the initial weights; per_member draws them from a model spec, got "per_member"/);
    expect(parseJob(onnxJob('shared'), 'job.yaml').ensemble!.init).toBe('shared');
    expect(parseJob(onnxJob(), 'job.yaml').ensemble!.init).toBe('shared');
    expect(() => parseJob({ ensemble: { members: 3, init: 'random' } }, 'job.yaml')).toThrow(/ensemble\.init must be one of "shared", "per_member", got "random"/);

    const path = join(tmp(), 'job.yaml');
    writeFileSync(path, 'name: bag\nmodel:\n  onnx: model.onnx\nensemble:\n  members: 3\n  init: per_member\n');
    expect(() => readJobFile(path)).toThrow(/ensemble\.init must be "shared" with an ONNX model.*got "per_member" \(line 6:9\)/);
  });
});

describe('job identity of a run directory written before ensemble.init existed', () => {
  /** The identity the coordinator wrote before the field: its config had no `ensemble.init`. */
  function identityWithoutInit(input: JobInput): string {
    const config = JSON.parse(JSON.stringify(parseJob(input, 'earlier job'))) as Record<string, Record<string, unknown>>;
    delete config.ensemble!.init;
    for (const path of NOT_FINGERPRINTED) {
      const [a, b] = path.split('.') as [string, string?];
      if (b === undefined) delete config[a];
      else delete config[a]![b];
    }
    const canonical = sortKeys(config);
    const dir = tmp();
    const identity = { job_id: 'bag-init-1234', fingerprint: createHash('sha256').update(JSON.stringify(canonical)).digest('hex'), name: 'bag-init', created_at: '2024-01-01T00:00:00.000Z', config: canonical };
    writeFileSync(join(dir, IDENTITY_FILE), JSON.stringify(identity, null, 2) + '\n');
    return dir;
  }

  it('resumes under the same config, with init absent or shared, and refuses per_member naming the field', () => {
    const dir = identityWithoutInit(job());
    expect(readIdentity(dir, parseJob(job(), 'job'), () => true)?.job_id).toBe('bag-init-1234');
    expect(readIdentity(dir, parseJob(job({}, { init: 'shared' }), 'job'), () => true)?.job_id).toBe('bag-init-1234');
    const perMember = () => readIdentity(dir, parseJob(job({}, { init: 'per_member' }), 'job'), () => true);
    expect(perMember).toThrow(RunDirectoryError);
    expect(perMember).toThrow(/1 field differs?: ensemble\.init: absent → "per_member"/);
    // Another difference is still one.
    expect(() => readIdentity(dir, parseJob(job({ seed: 6 }), 'job'), () => true)).toThrow(/seed: 5 → 6/);
  });

  it('fingerprints per_member apart from shared, and shared as a job without the field', () => {
    expect(fingerprint(parseJob(job({}, { init: 'shared' }), 'job'))).toBe(fingerprint(parseJob(job(), 'job')));
    expect(fingerprint(parseJob(job({}, { init: 'per_member' }), 'job'))).not.toBe(fingerprint(parseJob(job(), 'job')));
    const dir = tmp();
    writeIdentity(dir, parseJob(job({}, { init: 'per_member' }), 'job'), 'bag-init-5678');
    expect(readIdentity(dir, parseJob(job({}, { init: 'per_member' }), 'job'), () => true)?.job_id).toBe('bag-init-5678');
    expect(() => readIdentity(dir, parseJob(job(), 'job'), () => true)).toThrow(/ensemble\.init: "per_member" → absent/);
  });
});

describe('a resumed per_member ensemble', () => {
  let j: LoadedJob;
  let straight: string[];
  beforeAll(async () => {
    j = await load(job({}, { members: 3, init: 'per_member' }));
    const e = ensembleIn(j);
    for (const m of e.members) await drive(m, m.firstPhase());
    expect((await e.settled).status).toBe('done');
    straight = e.members.map(hashOf);
    expect(new Set(straight).size).toBe(3);
  }, 60_000);

  it('ends bit-identical to an uninterrupted one, resumed from checkpoints taken mid-training or started over', async () => {
    const dir = tmp();
    const first = ensembleIn(j, dir);
    const [m0, m1, m2] = first.members as [TrainingRun, TrainingRun, TrainingRun];
    await drive(m0, m0.firstPhase()); // done
    await drive(m1, m1.firstPhase(), { until: atPhase('train:3') }); // checkpoint at step 2, one step past it
    await drive(m2, m2.firstPhase(), { until: atPhase('train:1') }); // one step, no checkpoint: starts over, from its own draw again

    const second = ensembleIn(j, dir);
    const restored = restoreRuns(second.members, findCheckpoints(dir, log), log);
    expect(restored.map((r) => [r.run.name, r.run.done, r.from.contents.meta.globalStep])).toEqual([
      ['member-0', true, expect.any(Number)],
      ['member-1', false, 2],
    ]);
    // The restarted coordinator has a larger pool: every micro-batch is a task of its own, arriving in any order.
    await drive(second.members[1]!, restored[1]!.phase, { workers: 2, arrivalSeed: 1 });
    await drive(second.members[2]!, second.members[2]!.firstPhase(), { workers: 2, arrivalSeed: 2 });
    expect((await second.settled).status).toBe('done');
    expect(second.members.map(hashOf)).toEqual(straight);
  }, 60_000);
});

// ─── driving runs with made-up results (as resume-outputs.test.ts) ─────────────────────────────

/** Same length and the same bytes (so -0 ≠ 0 and NaN payloads count). */
function sameBits(a: Float32Array, b: Float32Array | undefined): boolean {
  return b !== undefined && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function hashOf(run: TrainingRun): string {
  const h = createHash('sha256');
  for (const t of [...run.params, ...run.buffers]) h.update(Buffer.from(t.buffer, t.byteOffset, t.byteLength));
  return h.digest('hex');
}

