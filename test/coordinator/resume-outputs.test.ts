/**
 * What a resumed run leaves in its run directory, without sockets or worker sessions: runs are
 * driven phase by phase with made-up (deterministic, parameter-dependent) results and a fake clock
 * that ticks one second per phase; a "coordinator death" drops the run objects, and the restart
 * goes through findCheckpoints/restoreRuns on the same directory, as the coordinator does.
 *
 * Compared with an uninterrupted run of the same job:
 *   - metrics.jsonl holds the same step and evaluation records (no repeated steps, no repeated
 *     evaluation), plus one `resume` record per resume; a torn last line is dropped;
 *   - summary.json's wall_time_s is the same (time up to the checkpoint + time after the restart);
 *   - a bagging member that was done before the restart is reported as it was (test metrics
 *     included), and the ensemble's own records are not repeated.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { jobSchema, type JobInput } from '../../coordinator/job/schema.js';
import { loadJob, parseJob, type LoadedJob } from '../../coordinator/job/load.js';
import { TrainingRun, type RunSetup } from '../../coordinator/run/training-run.js';
import { RunDirectory } from '../../coordinator/run/outputs.js';
import { buildEnsemble } from '../../coordinator/run/build-runs.js';
import type { EnsembleSummary } from '../../coordinator/run/ensemble.js';
import { findCheckpoints, restoreRuns, writeStopCheckpoints } from '../../coordinator/checkpoint/resume.js';
import type { PhaseSpec } from '../../coordinator/run/task.js';
import { arena, atPhase, drive as driveRun } from './made-up-results.js';
import type { ParamInfo } from '../../shared/autodiff/compile-types.js';
import { writtenBeforeCheckpoint, type CheckpointPosition } from '../../coordinator/run/metrics-rewind.js';
import { readMetricsFile, rewindMetricsFile } from '../../coordinator/run/metrics-file.js';
import { decodeCheckpoint, encodeCheckpoint } from '../../coordinator/checkpoint/file.js';
import type { RunCheckpointMeta } from '../../coordinator/run/run-records.js';

const log = pino({ level: 'silent' });
const tmp = () => mkdtempSync(join(tmpdir(), 'gf-resume-out-'));

/** The fake clock every run reads; `drive` moves it one second per completed phase. */
let clock = 0;
const now = () => clock;

/**
 * Completes `run`'s phases (made-up results), the fake clock one second further per phase. A
 * coordinator started again may have another pool: `workers` groups the phases into that many
 * tasks or more (the results do not depend on it).
 */
const drive = (run: TrainingRun, phase: PhaseSpec | null, until?: (next: PhaseSpec) => boolean, workers = 1) => driveRun(run, phase, { until, workers, beforePhase: () => (clock += 1000) });

/** metrics.jsonl, every line parsed (a torn line left behind fails the test). */
function metrics(dir: string): Record<string, unknown>[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
/** The records an uninterrupted run writes, without what depends on the wall clock. */
const comparable = (records: Record<string, unknown>[]) =>
  records
    .filter((r) => r.type !== 'resume')
    .map((r) => {
      const { time: _t, samples_per_s: _s, ...rest } = r;
      return rest;
    });
const summaryOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Record<string, unknown>;

// ─── the rule and the file ──────────────────────────────────────────────────────────────────────

describe('which records a checkpoint at step 6 keeps', () => {
  const ev = (split: string, step: number) => ({ type: 'eval', run: 'r', split, step });
  const records = {
    step5: { type: 'step', run: 'r', step: 5 },
    step6: { type: 'step', run: 'r', step: 6 },
    val3: ev('validation', 3),
    resume3: { type: 'resume', run: 'r', step: 3 },
    val6: ev('validation', 6),
    oob6: ev('oob', 6),
    test6: ev('test', 6),
    step7: { type: 'step', run: 'r', step: 7 },
    resume7: { type: 'resume', run: 'r', step: 7 },
    otherRun: { type: 'step', run: 'q', step: 9 },
    ensemble: { type: 'eval', run: 'ensemble', split: 'test' },
  };
  const always = ['step5', 'step6', 'val3', 'resume3', 'otherRun', 'ensemble'];
  const at = (over: Partial<CheckpointPosition>): CheckpointPosition => ({ run: 'r', globalStep: 6, stage: 'train', next: 'train', ...over });
  it.each<[string, Partial<CheckpointPosition>, string[]]>([
    ['taken after step 6, its validation next', { next: 'validation' }, []],
    ['taken after the validation at 6 (a stop during step 7)', { next: 'train' }, ['val6', 'test6']],
    ['taken after the validation at 6, its periodic test score next (eval.test: every)', { next: 'test' }, ['val6']],
    ['training over, out-of-bag not scored', { stage: 'final', outOfBag: null }, ['val6']],
    ['training over, out-of-bag scored (a stop during the test split)', { stage: 'final', outOfBag: { loss: 1, accuracy: 0.5, count: 3, headLosses: [1] } }, ['val6', 'oob6']],
    ['done', { stage: 'done', next: 'finish' }, ['val6', 'oob6', 'test6']],
    ['done, from a checkpoint without the test field', { stage: 'done', next: 'finish', test: undefined }, ['val6', 'oob6', 'test6']],
  ])('%s', (_, over, atSix) => {
    const keep = writtenBeforeCheckpoint(at(over));
    const kept = Object.entries(records)
      .filter(([, r]) => keep(r))
      .map(([name]) => name);
    expect(kept.sort()).toEqual([...always, ...atSix].sort());
  });

  it('reads past a torn last line and lines that are not objects, and rewinds the file atomically', () => {
    const dir = tmp();
    const path = join(dir, 'metrics.jsonl');
    expect(readMetricsFile(path)).toEqual({ lines: [], unreadable: 0, torn: false });
    expect(rewindMetricsFile(path, () => true)).toEqual({ kept: [], dropped: 0, unreadable: 0 });
    expect(existsSync(path)).toBe(false);
    writeFileSync(path, '{"type":"step","run":"r","step":1,"loss":0.5}\n[1,2]\n{"type":"step","run":"r","step":2}\n{"type":"st');
    expect(readMetricsFile(path)).toMatchObject({ unreadable: 2, torn: true, lines: [{ record: { step: 1 } }, { record: { step: 2 } }] });
    expect(rewindMetricsFile(path, (r) => r.step === 1)).toEqual({ kept: [{ type: 'step', run: 'r', step: 1, loss: 0.5 }], dropped: 1, unreadable: 2 });
    expect(readFileSync(path, 'utf8')).toBe('{"type":"step","run":"r","step":1,"loss":0.5}\n');
    expect(readdirSync(dir)).toEqual(['metrics.jsonl']);
  });
});

// ─── a plain run ────────────────────────────────────────────────────────────────────────────────

const params: ParamInfo[] = [
  { name: 'w', shape: [3, 2], init: Float32Array.of(0.5, -0.25, 0.125, 1, -0.75, 0.3), grad: 'grad:w', kind: 'weight' },
  { name: 'b', shape: [2], init: Float32Array.of(0.1, -0.1), grad: 'grad:b', kind: 'bias' },
];
const range = (from: number, n: number) => Uint32Array.from({ length: n }, (_, i) => from + i);
/**
 * 20 training samples in global batches of 8 (micro 4): 3 steps an epoch (8, 8, 4), 3 epochs,
 * 9 steps. Validation every 3 steps, a checkpoint every 3 steps: each periodic checkpoint is
 * taken after its step and before the validation that step made due.
 */
const plainInput = {
  name: 'plain',
  seed: 3,
  epochs: 3,
  batch: { global: 8, micro: 4 },
  optimizer: { kind: 'adam', lr: 0.05 },
  eval: { every: 3, batch: 5 },
  early_stopping: { monitor: 'val_loss', patience: 10 },
  checkpoint: { every_steps: 3, keep: 5 },
} satisfies JobInput;
const plainJob = jobSchema.parse(plainInput);

function plainRun(dir: string, job = plainJob, validation = 10): TrainingRun {
  const setup: RunSetup = {
    id: 0,
    name: 'plain',
    job,
    arena,
    params,
    buffers: [],
    trainIndices: range(0, 20),
    validationIndices: range(20, validation),
    testIndices: range(30, 10),
    seed: plainJob.seed,
    out: new RunDirectory(dir),
    log,
    now,
  };
  return new TrainingRun(setup);
}

/** A coordinator started again on `dir`: the run rebuilt and restored from its newest good checkpoint. */
function restart(dir: string): { run: TrainingRun; phase: PhaseSpec | null } {
  clock += 3_600_000; // an hour down: not training time
  const run = plainRun(dir);
  const [restored] = restoreRuns([run], findCheckpoints(dir, log), log);
  expect(restored?.run).toBe(run);
  return { run, phase: restored!.phase };
}

describe('a resumed run’s metrics and summary', () => {
  let straight: { records: Record<string, unknown>[]; summary: Record<string, unknown> };
  beforeAll(async () => {
    const dir = tmp();
    const run = plainRun(dir);
    await drive(run, run.firstPhase());
    straight = { records: metrics(dir), summary: summaryOf(dir) };
    expect(straight.summary.status).toBe('done');
    expect(straight.summary.steps).toBe(9);
  });

  it('killed two steps after a checkpoint, mid-line: the steps after it are written once, the torn line is gone, one resume record marks the restart', async () => {
    const dir = tmp();
    const first = plainRun(dir);
    await drive(first, first.firstPhase(), atPhase('train:5')); // steps 1–5 done; ckpt-3 is the newest
    appendFileSync(join(dir, 'metrics.jsonl'), '{"type":"step","run":"plain","step":6,"lo');
    const { run, phase } = restart(dir);
    await drive(run, phase, undefined, 3); // a pool of 3 now: every micro-batch its own task

    const records = metrics(dir);
    expect(comparable(records)).toEqual(comparable(straight.records));
    const steps = records.filter((r) => r.type === 'step').map((r) => r.step);
    expect(steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const resumes = records.filter((r) => r.type === 'resume');
    expect(resumes).toEqual([expect.objectContaining({ type: 'resume', run: 'plain', step: 3, from: 'checkpoints/ckpt-0000000003.gfck' })]);
    // The record sits where the run went on from: after step 3, before the validation it re-ran.
    const at = records.indexOf(resumes[0]!);
    expect(records[at - 1]).toMatchObject({ type: 'step', step: 3 });
    expect(records[at + 1]).toMatchObject({ type: 'eval', split: 'validation', step: 3 });
    expect(readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('killed just after the validation its checkpoint was waiting for: that validation is written once', async () => {
    const dir = tmp();
    const first = plainRun(dir);
    await drive(first, first.firstPhase(), atPhase('train:6')); // validation of step 6 written; ckpt-6 says it is next
    expect(metrics(dir).filter((r) => r.type === 'eval' && r.step === 6)).toHaveLength(1);
    const { run, phase } = restart(dir);
    expect(phase?.name).toBe('eval:validation:6:6');
    await drive(run, phase);
    expect(comparable(metrics(dir))).toEqual(comparable(straight.records));
  });

  it('stopped (SIGTERM) during the step after a validation: that validation is kept, not re-run', async () => {
    const dir = tmp();
    const first = plainRun(dir);
    await drive(first, first.firstPhase(), atPhase('train:6'));
    const written = writeStopCheckpoints([first], { activePhase: () => 'train:6', dirOf: (r) => r.checkpointDir, keep: 5, log });
    expect(written).toEqual([join(dir, 'checkpoints', 'ckpt-0000000006.gfck')]);
    const { run, phase } = restart(dir);
    expect(phase?.name).toBe('train:6');
    await drive(run, phase, undefined, 2);
    expect(comparable(metrics(dir))).toEqual(comparable(straight.records));
  });

  it('counts training time across restarts in wall_time_s (not the time the coordinator was down), and the resumes', async () => {
    const dir = tmp();
    const first = plainRun(dir);
    await drive(first, first.firstPhase(), atPhase('train:5'));
    const second = restart(dir);
    await drive(second.run, second.phase, atPhase('train:7')); // ckpt-6 is the newest now
    const third = restart(dir);
    await drive(third.run, third.phase);

    const summary = summaryOf(dir);
    expect(summary.wall_time_s).toBe(straight.summary.wall_time_s);
    expect(summary.resumes).toBe(2);
    expect(straight.summary.resumes).toBe(0);
    const records = metrics(dir);
    expect(records.filter((r) => r.type === 'resume').map((r) => r.step)).toEqual([3, 6]);
    expect(comparable(records)).toEqual(comparable(straight.records));
    const { wall_time_s: _a, resumes: _b, started_at: startedAt, ...rest } = summary;
    const { wall_time_s: _c, resumes: _d, started_at: _e, ...straightRest } = straight.summary;
    expect(rest).toEqual(straightRest);
    expect(typeof startedAt).toBe('string');
  });

  it('restores a run that was done from a checkpoint older than the test field: test metrics, wall time and start from its summary.json', async () => {
    const dir = tmp();
    const first = plainRun(dir);
    await drive(first, first.firstPhase());
    const file = join(dir, 'checkpoints', 'ckpt-0000000009.gfck');
    const c = decodeCheckpoint<RunCheckpointMeta>(readFileSync(file));
    expect(c.meta.stage).toBe('done');
    const { test: _t, elapsedMs: _e, startedAt: _s, ...older } = c.meta;
    writeFileSync(file, encodeCheckpoint({ meta: older, tensors: c.tensors }));
    const before = readFileSync(join(dir, 'metrics.jsonl'), 'utf8');

    const { run, phase } = restart(dir);
    expect(phase).toBeNull();
    const { resumes: _r, ...summary } = run.summary();
    const { resumes: _r2, ...onDisk } = summaryOf(dir);
    expect(summary).toEqual(onDisk);
    expect(summary.test).not.toBeNull();
    expect(readFileSync(join(dir, 'metrics.jsonl'), 'utf8')).toBe(before);
  });

  it('starts the metrics over when the run had no checkpoint to resume from', async () => {
    const dir = tmp();
    const first = plainRun(dir);
    await drive(first, first.firstPhase(), atPhase('train:2')); // two steps, no checkpoint yet
    expect(existsSync(join(dir, 'checkpoints'))).toBe(false);
    clock += 60_000;
    const run = plainRun(dir);
    expect(restoreRuns([run], findCheckpoints(dir, log), log)).toEqual([]);
    await drive(run, run.firstPhase());
    expect(comparable(metrics(dir))).toEqual(comparable(straight.records));
  });
});

// ─── a bagging ensemble ─────────────────────────────────────────────────────────────────────────

function ensembleJob(): JobInput {
  return {
    name: 'bag-resume',
    seed: 5,
    model: { spec: { input: { name: 'x', shape: [784] }, layers: [{ type: 'dense', name: 'fc1', units: 4 }, { type: 'relu' }, { type: 'dense', name: 'fc2', units: 10 }], loss: 'cross-entropy' } },
    data: { source: 'digits', limit: 160, split: { validation: 30, test: 30 } },
    batch: { global: 32, micro: 16 },
    epochs: 2,
    optimizer: { kind: 'sgd', lr: 0.01 },
    eval: { every: 'epoch', batch: 20 },
    checkpoint: { every_steps: 2, keep: 3 },
    ensemble: { members: 2, sample_fraction: 0.8, seed: 21 },
  } as JobInput;
}

function ensembleIn(job: LoadedJob, dir: string) {
  return buildEnsemble(job, { out: new RunDirectory(dir), arena, log, now, workers: () => ({ registrations: 1, connected: 1 }) });
}

describe('a resumed bagging ensemble', () => {
  let job: LoadedJob;
  let straight: { dir: string; summary: EnsembleSummary };
  beforeAll(async () => {
    job = await loadJob(parseJob(ensembleJob(), 'test'), 'test', process.cwd());
    const dir = tmp();
    const ens = ensembleIn(job, dir);
    for (const m of ens.members) await drive(m, m.firstPhase());
    straight = { dir, summary: await ens.settled };
    expect(straight.summary.status).toBe('done');
    expect(straight.summary.members.every((m) => m.test !== null)).toBe(true);
  }, 60_000);

  it('reports a member that was done before the restart as it was, test metrics included, and writes the ensemble’s records once', async () => {
    const dir = tmp();
    const first = ensembleIn(job, dir);
    await drive(first.members[0]!, first.members[0]!.firstPhase()); // member 0 done (its test scored)
    await drive(first.members[1]!, first.members[1]!.firstPhase(), atPhase('train:3')); // member 1: 3 steps, ckpt-2
    const startedAt = summaryOf(join(dir, 'members', '0')).started_at;
    expect(typeof startedAt).toBe('string');
    await new Promise((r) => setTimeout(r, 5)); // a restart at another millisecond

    clock += 3_600_000;
    const second = ensembleIn(job, dir);
    const restored = restoreRuns(second.members, findCheckpoints(dir, log), log);
    expect(restored.map((r) => [r.run.name, r.run.done])).toEqual([
      ['member-0', true],
      ['member-1', false],
    ]);
    await drive(second.members[1]!, restored[1]!.phase, undefined, 2);
    const summary = await second.settled;

    expect(summary.members).toEqual(straight.summary.members);
    expect(summary.members[0]!.test).not.toBeNull();
    expect(summary.ensemble).toEqual(straight.summary.ensemble);
    expect(summary.status).toBe('done');
    expect(summary.wall_time_s).toBe(straight.summary.wall_time_s);
    for (const k of [0, 1]) {
      const memberDir = join(dir, 'members', String(k));
      expect(comparable(metrics(memberDir))).toEqual(comparable(metrics(join(straight.dir, 'members', String(k)))));
      const { started_at: s, resumes, ...rest } = summaryOf(memberDir);
      const { started_at: _s, resumes: _r, ...straightRest } = summaryOf(join(straight.dir, 'members', String(k)));
      expect(rest).toEqual(straightRest);
      expect(s).toBe(startedAt);
      expect(resumes).toBe(k === 1 ? 1 : 0);
    }
    expect(summaryOf(dir).started_at).toBe(startedAt);
    const ensembleRecords = () => metrics(dir).map((r) => `${r.run}:${r.split}`);
    expect(ensembleRecords()).toEqual(['ensemble:validation', 'ensemble:test']);

    // Started again on the finished directory: the ensemble is scored again, its records not repeated.
    const third = ensembleIn(job, dir);
    expect(restoreRuns(third.members, findCheckpoints(dir, log), log).every((r) => r.run.done)).toBe(true);
    const again = await third.settled;
    expect(again.members).toEqual(straight.summary.members);
    expect(ensembleRecords()).toEqual(['ensemble:validation', 'ensemble:test']);
    expect(metrics(join(dir, 'members', '0')).filter((r) => r.type === 'resume')).toEqual([]);
  }, 60_000);
});

// ─── periodic test scores ──────────────────────────────────────────────────────────────────────

describe('periodic test scores (eval.test: every)', () => {
  const everyJob = jobSchema.parse({ ...plainInput, eval: { ...plainInput.eval, test: 'every' } } satisfies JobInput);
  const evals = (dir: string) => metrics(dir).filter((r) => r.type === 'eval').map((r) => `${r.split as string}@${r.step as number}`);
  let straight: Record<string, unknown>[];
  beforeAll(async () => {
    const dir = tmp();
    const run = plainRun(dir, everyJob);
    await drive(run, run.firstPhase());
    straight = metrics(dir);
  });

  it('scores the test split after each validation, and once at the end; the summary keeps the final score', () => {
    const evalsOf = straight.filter((r) => r.type === 'eval').map((r) => `${r.split as string}@${r.step as number}`);
    // Steps 3 and 6: validation then test; step 9 ends training: validation, then the final test only.
    expect(evalsOf).toEqual(['validation@3', 'test@3', 'validation@6', 'test@6', 'validation@9', 'test@9']);
    expect(straight.filter((r) => r.type === 'step')).toHaveLength(9);
  });

  it('changes nothing else: the steps and validations are those of a run without it', async () => {
    const dir = tmp();
    const run = plainRun(dir);
    await drive(run, run.firstPhase());
    const withoutTest = (records: Record<string, unknown>[]) => comparable(records).filter((r) => !(r.type === 'eval' && r.split === 'test' && r.step !== 9));
    expect(withoutTest(straight)).toEqual(comparable(metrics(dir)));
    expect(summaryOf(dir).test).toBeDefined();
  });

  it('stopped while a periodic test score was computed: resumes with that score, and the records read as an uninterrupted run’s', async () => {
    const dir = tmp();
    const first = plainRun(dir, everyJob);
    await drive(first, first.firstPhase(), atPhase('eval:test:6:6'));
    writeStopCheckpoints([first], { activePhase: () => 'eval:test:6:6', dirOf: (r) => r.checkpointDir, keep: 5, log });
    clock += 3_600_000;
    const run = plainRun(dir, everyJob);
    const [restored] = restoreRuns([run], findCheckpoints(dir, log), log);
    expect(restored!.phase?.name).toBe('eval:test:6:6');
    await drive(run, restored!.phase, undefined, 2);
    expect(comparable(metrics(dir))).toEqual(comparable(straight));
  });

  it('without a validation split, scores the test split alone at each evaluation', async () => {
    const dir = tmp();
    const run = plainRun(dir, jobSchema.parse({ ...plainInput, early_stopping: undefined, eval: { ...plainInput.eval, test: 'every' } } satisfies JobInput), 0);
    await drive(run, run.firstPhase());
    expect(evals(dir)).toEqual(['test@3', 'test@6', 'test@9']);
  });
});
