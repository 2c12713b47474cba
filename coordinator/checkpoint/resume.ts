/**
 * Resuming runs from their checkpoints, and the checkpoint written when the coordinator is
 * stopped gracefully.
 *
 *   run directory ─► every `checkpoints/` folder in it ─► newest good file of each (corrupt or
 *   truncated ones skipped, with a log line naming the file and why) ─► matched to runs by name
 *   ─► TrainingRun.restore (its metrics.jsonl rewound to the checkpoint, a `resume` record added)
 *   ─► resumePhase() is what the scheduler starts with
 *
 * Runs are matched by the name stored in the checkpoint, after the job's runs were built, so the
 * layout of the run directory (one run, or one folder per bagging member) does not matter here.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Logger } from '../../shared/log.js';
import { loadLatestCheckpoint, saveCheckpoint, type CheckpointContents } from './file.js';
import type { RunCheckpointMeta } from '../run/run-records.js';
import type { PhaseSpec } from '../run/task.js';
import type { ClusterRun } from '../dispatch/dispatcher.js';
import { CoordinatorError } from '../errors.js';

/** A run that can be checkpointed and continued bit-identically (TrainingRun is one). */
export interface ResumableRun extends ClusterRun {
  checkpointContents(): CheckpointContents<RunCheckpointMeta>;
  /**
   * Continues from `c`, read from the file `from`. A TrainingRun also rewinds its metrics to the
   * checkpoint and records the resume there.
   */
  restore(c: CheckpointContents<RunCheckpointMeta>, from?: string): void;
  /** The phase to run after restore(). */
  resumePhase(): PhaseSpec | null;
  /** Where the run writes its checkpoints, when it says so. */
  readonly checkpointDir?: string;
}

export function isResumable(run: ClusterRun): run is ResumableRun {
  const r = run as Partial<ResumableRun>;
  return typeof r.checkpointContents === 'function' && typeof r.restore === 'function' && typeof r.resumePhase === 'function';
}

/** A checkpoint that cannot be used for this job's runs. */
export class ResumeError extends CoordinatorError {
  override name = 'ResumeError';
}

export interface FoundCheckpoint {
  /** Path of the file. */
  path: string;
  dir: string;
  contents: CheckpointContents<RunCheckpointMeta>;
}

/** `checkpoints` folders at most `depth` levels below the run directory. */
export function checkpointDirs(runDir: string, depth = 3): string[] {
  const found: string[] = [];
  const walk = (dir: string, level: number) => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      let isDir = false;
      try {
        isDir = statSync(path).isDirectory();
      } catch {
        continue;
      }
      if (!isDir) continue;
      if (name === 'checkpoints') found.push(path);
      else if (level < depth) walk(path, level + 1);
    }
  };
  walk(runDir, 1);
  return found;
}

/** Whether any checkpoint file (good or not) lies under the run directory. */
export function hasCheckpointFiles(runDir: string): boolean {
  return checkpointDirs(runDir).some((dir) => {
    try {
      return readdirSync(dir).some((n) => n.endsWith('.gfck'));
    } catch {
      return false;
    }
  });
}

/**
 * The newest good checkpoint of every run found under the run directory, by run name. Corrupt
 * or truncated files are logged (file and reason) and the previous one is used.
 */
export function findCheckpoints(runDir: string, log: Logger): Map<string, FoundCheckpoint> {
  const byRun = new Map<string, FoundCheckpoint>();
  for (const dir of checkpointDirs(runDir)) {
    const latest = loadLatestCheckpoint<RunCheckpointMeta>(dir, (file, err) =>
      log.warn({ file: join(dir, file), reason: err.message }, `checkpoint ${relative(runDir, join(dir, file))} skipped (${err.message}); trying the previous one`),
    );
    if (!latest) {
      log.warn({ dir }, `no usable checkpoint in ${relative(runDir, dir) || dir}`);
      continue;
    }
    const path = join(dir, latest.file);
    const name = latest.meta.run;
    const other = byRun.get(name);
    if (other) throw new ResumeError(`two checkpoint folders hold run '${name}': ${other.path} and ${path}`);
    byRun.set(name, { path, dir, contents: { meta: latest.meta, tensors: latest.tensors } });
  }
  return byRun;
}

export interface RestoredRun {
  run: ResumableRun;
  from: FoundCheckpoint;
  /** The tasks the run continues with ([] when it was already done). */
  phase: PhaseSpec | null;
}

/**
 * Restores each run that has a checkpoint and returns the phase it continues with. Runs
 * without one start from the beginning (logged); a checkpoint that names no run of this job is
 * an error (the job identity check makes that a corrupt directory, not a different job).
 */
export function restoreRuns(runs: readonly ClusterRun[], found: ReadonlyMap<string, FoundCheckpoint>, log: Logger): RestoredRun[] {
  const byName = new Map(runs.map((r) => [r.name, r]));
  for (const name of found.keys()) if (!byName.has(name)) throw new ResumeError(`checkpoint ${found.get(name)!.path} is of run '${name}', which this job does not have (runs: ${[...byName.keys()].join(', ')})`);
  const restored: RestoredRun[] = [];
  for (const run of runs) {
    const from = found.get(run.name);
    if (!from) {
      if (found.size > 0) log.warn({ run: run.name }, `no checkpoint of run '${run.name}': it starts from the beginning`);
      continue;
    }
    if (!isResumable(run)) throw new ResumeError(`run '${run.name}' has a checkpoint (${from.path}) but cannot be restored`);
    run.restore(from.contents, from.path);
    const m = from.contents.meta;
    const phase = run.resumePhase();
    log.info({ run: run.name, checkpoint: from.path, step: m.globalStep, epoch: m.epoch, stage: m.stage, next: m.next, done: run.done }, `run '${run.name}' restored from ${from.path} (step ${m.globalStep})`);
    restored.push({ run, from, phase });
  }
  return restored;
}

/**
 * A checkpoint of a run as it stands between phases, for a graceful stop. `activePhase` is the
 * phase the scheduler is running for it: when that is a training step, the run's next phase is
 * that step, whatever the run last recorded (a run records 'validation' after the step that made
 * one due, and a stop during the training step that follows must not redo that validation).
 */
export function stopCheckpoint(run: ResumableRun, activePhase: string | undefined): CheckpointContents<RunCheckpointMeta> {
  const c = run.checkpointContents();
  if (c.meta.stage === 'train' && activePhase?.startsWith('train:')) return { meta: { ...c.meta, next: 'train' }, tensors: c.tensors };
  return c;
}

/** Writes stop checkpoints for the runs that are not done; returns the files written. */
export function writeStopCheckpoints(
  runs: readonly ClusterRun[],
  o: { activePhase: (runId: number) => string | undefined; dirOf: (run: ResumableRun) => string | undefined; keep: number; log: Logger },
): string[] {
  const written: string[] = [];
  for (const run of runs) {
    if (run.done) continue;
    if (!isResumable(run)) {
      o.log.warn({ run: run.name }, `run '${run.name}' cannot be checkpointed; it will start from the beginning`);
      continue;
    }
    const dir = o.dirOf(run);
    if (!dir) {
      o.log.warn({ run: run.name }, `no checkpoint folder known for run '${run.name}'; it resumes from its last periodic checkpoint`);
      continue;
    }
    const c = stopCheckpoint(run, o.activePhase(run.id));
    written.push(saveCheckpoint(dir, c.meta.globalStep, c, o.keep));
  }
  return written;
}
