/**
 * Resuming without processes: the run directory's job identity (fingerprint, refusal naming the
 * fields that differ), finding each run's newest good checkpoint in any layout (corrupt files
 * skipped with a line naming them), restoring runs by name, and the stop checkpoint's next phase.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { jobSchema, type JobInput } from '../../coordinator/job/schema.js';
import { fingerprint, readIdentity, writeIdentity, RunDirectoryError } from '../../coordinator/run-dir/job-identity.js';
import { findCheckpoints, hasCheckpointFiles, restoreRuns, ResumeError, stopCheckpoint, type ResumableRun } from '../../coordinator/checkpoint/resume.js';
import { saveCheckpoint, type CheckpointContents } from '../../coordinator/checkpoint/file.js';
import type { RunCheckpointMeta } from '../../coordinator/run/run-records.js';
import type { PhaseSpec } from '../../coordinator/run/task.js';

const job = (over: Partial<JobInput> = {}) => jobSchema.parse({ name: 'resume', seed: 7, ...over });
const tmp = () => mkdtempSync(join(tmpdir(), 'gf-resume-'));

function capture() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

function meta(run: string, step: number, over: Partial<RunCheckpointMeta> = {}): RunCheckpointMeta {
  return {
    run,
    globalStep: step,
    epoch: 0,
    stepInEpoch: step,
    version: step,
    stage: 'train',
    next: 'train',
    stopReason: '',
    earlyStopping: { best: null, bestStep: null, wait: 0 } as never,
    bestStep: null,
    consecutiveSkips: 0,
    skipped: 0,
    lastValidation: null,
    epochLog: [],
    optimizer: { kind: 'sgd', step, slots: [] },
    counts: { params: 1, buffers: 0 },
    ...over,
  };
}

const ckpt = (run: string, step: number, over: Partial<RunCheckpointMeta> = {}): CheckpointContents<RunCheckpointMeta> => ({ meta: meta(run, step, over), tensors: [Float32Array.of(step, step / 2)] });

/** A run that records what it was restored from and resumes with a one-leaf phase of its own. */
class FakeRun implements ResumableRun {
  restoredFrom: CheckpointContents<RunCheckpointMeta> | undefined;
  done = false;
  readonly pieceSizes = [2];
  constructor(
    readonly id: number,
    readonly name: string,
    private next: RunCheckpointMeta['next'] = 'train',
  ) {}
  firstPhase(): PhaseSpec | null {
    return this.phase('train:0');
  }
  taskDone(): void {}
  completePhase(): PhaseSpec | null {
    return null;
  }
  currentParams() {
    return { version: 0, params: [], buffers: [] };
  }
  checkpointContents(): CheckpointContents<RunCheckpointMeta> {
    return ckpt(this.name, 5, { next: this.next });
  }
  restore(c: CheckpointContents<RunCheckpointMeta>): void {
    this.restoredFrom = c;
    this.done = c.meta.stage === 'done';
  }
  resumePhase(): PhaseSpec | null {
    return this.done ? null : this.phase(`train:${this.restoredFrom!.meta.globalStep}`);
  }
  private phase(name: string): PhaseSpec {
    return { runId: this.id, name, kind: 'train', step: 0, leaves: [{ indices: Uint32Array.of(0), maskSeed: 0 }] };
  }
}

describe('job identity of a run directory', () => {
  it('fingerprints what changes the computed parameters, not how the cluster runs', () => {
    const base = fingerprint(job());
    expect(fingerprint(job({ workers: { lease: '60s', heartbeat: '5s', wait_warning: '1m' }, checkpoint: { every_steps: 7, keep: 9 }, run_dir: '/elsewhere' }))).toBe(base);
    expect(fingerprint(job({ seed: 8 }))).not.toBe(base);
    expect(fingerprint(job({ optimizer: { kind: 'sgd', lr: 0.5 } }))).not.toBe(base);
    expect(fingerprint(job({ workers: { compression: 'fp16' } }))).not.toBe(base);
  });

  it('keeps the job id of a directory, and refuses another config naming the fields that differ', () => {
    const dir = tmp();
    expect(readIdentity(dir, job(), () => false)).toBeUndefined();
    const id = writeIdentity(dir, job(), 'resume-1234').job_id;
    expect(readIdentity(dir, job({ workers: { lease: '30s' } }), () => true)?.job_id).toBe(id);
    const refuse = () => readIdentity(dir, job({ seed: 8, epochs: 3 }), () => true);
    expect(refuse).toThrow(RunDirectoryError);
    expect(refuse).toThrow(`run directory ${dir}: it belongs to job 'resume-1234' with a different config (2 fields differ: epochs: 10 → 3; seed: 7 → 8); refusing to resume it`);
  });

  it('refuses checkpoints that have no identity beside them', () => {
    const dir = tmp();
    saveCheckpoint(join(dir, 'checkpoints'), 3, ckpt('resume', 3), 2);
    expect(hasCheckpointFiles(dir)).toBe(true);
    expect(() => readIdentity(dir, job(), () => hasCheckpointFiles(dir))).toThrow(/holds checkpoints but no job-identity\.json/);
  });
});

describe('finding and restoring checkpoints', () => {
  it("finds each run's newest good checkpoint in nested folders and names a corrupt one it skips", () => {
    const dir = tmp();
    for (const k of [0, 1]) for (const step of [4, 8]) saveCheckpoint(join(dir, 'members', String(k), 'checkpoints'), step, ckpt(`m${k}`, step), 3);
    const torn = join(dir, 'members', '1', 'checkpoints', 'ckpt-0000000008.gfck');
    writeFileSync(torn, readFileSync(torn).subarray(0, 100));
    const { log, lines } = capture();
    const found = findCheckpoints(dir, log);
    expect([...found.keys()].sort()).toEqual(['m0', 'm1']);
    expect(found.get('m0')!.contents.meta.globalStep).toBe(8);
    expect(found.get('m1')!.contents.meta.globalStep).toBe(4);
    expect(found.get('m1')!.path).toBe(join(dir, 'members', '1', 'checkpoints', 'ckpt-0000000004.gfck'));
    const skipped = lines.filter((l) => String(l.msg).startsWith('checkpoint '));
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatchObject({ file: torn, msg: expect.stringContaining('checkpoint members/1/checkpoints/ckpt-0000000008.gfck skipped (ckpt-0000000008.gfck: checksum mismatch (truncated or corrupt)); trying the previous one') });
  });

  it('restores runs by name and returns the phase each continues with; a checkpoint of no run of the job is an error', () => {
    const dir = tmp();
    saveCheckpoint(join(dir, 'a', 'checkpoints'), 6, ckpt('alpha', 6), 2);
    saveCheckpoint(join(dir, 'b', 'checkpoints'), 9, ckpt('beta', 9, { stage: 'done' }), 2);
    const { log } = capture();
    const alpha = new FakeRun(0, 'alpha');
    const beta = new FakeRun(1, 'beta');
    const gamma = new FakeRun(2, 'gamma');
    const restored = restoreRuns([alpha, beta, gamma], findCheckpoints(dir, log), log);
    expect(restored.map((r) => [r.run.name, r.phase?.name ?? null])).toEqual([
      ['alpha', 'train:6'],
      ['beta', null],
    ]);
    expect(Array.from(alpha.restoredFrom!.tensors[0]!)).toEqual([6, 3]);
    expect(beta.done).toBe(true);
    expect(gamma.restoredFrom).toBeUndefined();
    expect(() => restoreRuns([alpha], findCheckpoints(dir, log), log)).toThrow(ResumeError);
  });

  it("stops into the training step in progress, not into the validation that came before it", () => {
    const afterValidation = new FakeRun(0, 'r', 'validation');
    expect(stopCheckpoint(afterValidation, 'train:5').meta.next).toBe('train');
    expect(stopCheckpoint(afterValidation, 'eval:validation:5:5').meta.next).toBe('validation');
    expect(stopCheckpoint(new FakeRun(0, 'r', 'train'), 'train:5').meta.next).toBe('train');
  });
});
