/**
 * The run directory of `coordinator start`: --run-dir, else the job's run_dir, else the unfinished
 * timestamped directory of this job config under runs/ (the rules are in choice.ts), else
 * a new `runs/<name>-<time>`. So a head node that died is resumed by running the same command
 * again, without knowing which directory it wrote; `--fresh` always starts a new directory.
 *
 * This module does the reading (directory names, job-identity.json, the newest good checkpoint
 * of each run, final-params.json) and the printing; choice.ts decides. Nothing is written.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { Logger } from '../../shared/log.js';
import { confinePath, type PathPolicy } from '../../shared/security/paths.js';
import type { JobConfig } from '../job/schema.js';
import { IDENTITY_FILE, RunDirectoryError, fingerprint } from './job-identity.js';
import { loadLatestCheckpoint } from '../checkpoint/file.js';
import { checkpointDirs } from '../checkpoint/resume.js';
import { liveLockOwner } from './lock.js';
import type { RunCheckpointMeta } from '../run/run-records.js';
import { newestOfThisConfig, resumeDecision, resumeLine, runDirNameTime, timestampedRunDirName, type ResumeFacts, type RunDirCandidate } from './choice.js';

/** The file the coordinator writes last (coordinator.ts writeFinalParams). */
const FINAL_OUTPUT = 'final-params.json';

export interface RunDirectoryOptions {
  /** --run-dir: used as given. */
  runDir?: string;
  /** --fresh: a new timestamped directory, whatever runs/ holds. */
  fresh?: boolean;
  /** Where timestamped directories go (default: runs/ in the working directory). */
  runsDir?: string;
  now?: () => Date;
  log: Logger;
  /** Where the resume line goes (stdout). */
  print: (line: string) => void;
  /**
   * Where the JOB FILE's run_dir may lie (runDirPolicy): a job file must not make the coordinator
   * write elsewhere. --run-dir (the operator's own flag) is not checked. Unchecked when absent.
   */
  jobRunDirPolicy?: PathPolicy;
}

/**
 * Where a job file's run_dir may lie: it resolves against the working directory (as it always
 * has) and must stay under its runs/, the job file's folder or an allowed folder (--allow-dir,
 * $GRADFLEET_ALLOWED_DIRS); /usr/share/datasets is for reading only and not included.
 */
export function runDirPolicy(baseDir: string, allowDirs: readonly string[], cwd: string = process.cwd()): PathPolicy {
  return {
    base: resolve(cwd),
    roots: [...new Set([resolve(cwd, 'runs'), resolve(baseDir), ...allowDirs.map((d) => resolve(d))])],
    hint: 'use --run-dir DIR, or pass --allow-dir DIR (or set GRADFLEET_ALLOWED_DIRS) to allow that folder',
  };
}

/**
 * The absolute run directory for `job`. Throws RunDirectoryError for --fresh together with a
 * named directory (--run-dir or the job's run_dir): "fresh" cannot be honoured there.
 */
export function runDirectoryFor(job: JobConfig, o: RunDirectoryOptions): string {
  const named = o.runDir ?? job.run_dir;
  if (named !== undefined) {
    if (o.fresh)
      throw new RunDirectoryError(
        named,
        o.runDir !== undefined
          ? '--fresh starts a new timestamped directory under runs/ and cannot be combined with --run-dir'
          : "--fresh starts a new timestamped directory under runs/, but the job file sets run_dir; remove run_dir from the job file, or pass --run-dir with a new directory instead of --fresh",
      );
    if (o.runDir === undefined && o.jobRunDirPolicy) return confinePath('run_dir', named, o.jobRunDirPolicy);
    return resolve(named);
  }
  const runsDir = resolve(o.runsDir ?? 'runs');
  const fresh = join(runsDir, timestampedRunDirName(job.name, (o.now ?? (() => new Date()))()));
  if (o.fresh) {
    o.log.info({ runDir: fresh }, '--fresh: a new run directory, whatever runs/ holds');
    return fresh;
  }
  const newest = newestOfThisConfig(candidatesIn(runsDir, job));
  if (!newest) return fresh;
  const runCount = job.ensemble?.members ?? 1;
  const busy = liveLockOwner(newest.path);
  if (busy) {
    o.print(`the newest run directory of this job config, ${shownPath(newest.path)}, is in use by a running coordinator (pid ${busy.pid}): starting a new one`);
    return fresh;
  }
  const facts = resumeFacts(newest.path);
  const decision = resumeDecision(facts, runCount);
  const shown = shownPath(newest.path);
  if (decision.action === 'resume') {
    o.print(resumeLine(shown, facts, decision, runCount));
    o.log.info({ runDir: newest.path, why: decision.why, checkpoints: facts.checkpoints }, 'resuming the unfinished run directory of this job config');
    return newest.path;
  }
  if (decision.why === 'no-checkpoint') o.print(`the newest run directory of this job config, ${shown}, has no checkpoint to resume from: starting a new one`);
  else o.log.info({ finished: newest.path, runDir: fresh }, 'the newest run directory of this job config is finished: starting a new one');
  return fresh;
}

/** Directories under `runsDir` named `<job name>-<time>`, and whether each is of this job config. */
function candidatesIn(runsDir: string, job: JobConfig): RunDirCandidate[] {
  let entries;
  try {
    entries = readdirSync(runsDir, { withFileTypes: true });
  } catch {
    return []; // no runs/ yet
  }
  const wanted = fingerprint(job);
  return entries.flatMap((e) => {
    const createdMs = e.isDirectory() ? runDirNameTime(job.name, e.name) : undefined;
    if (createdMs === undefined) return [];
    const path = join(runsDir, e.name);
    return [{ path, createdMs, sameConfig: storedFingerprint(path) === wanted }];
  });
}

/** The fingerprint in a directory's job-identity.json; undefined when absent or unreadable (not resumed automatically). */
function storedFingerprint(dir: string): string | undefined {
  try {
    const stored = JSON.parse(readFileSync(join(dir, IDENTITY_FILE), 'utf8')) as { fingerprint?: unknown };
    return typeof stored.fingerprint === 'string' ? stored.fingerprint : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The newest good checkpoint of each run (what checkpoint/resume.ts's findCheckpoints restores: corrupt
 * files are passed over the same way, silently here, since the coordinator logs them when it
 * restores) and whether the coordinator wrote its last output.
 */
function resumeFacts(dir: string): ResumeFacts {
  const checkpoints = checkpointDirs(dir).flatMap((d) => {
    const latest = loadLatestCheckpoint<RunCheckpointMeta>(d, () => {});
    return latest ? [{ run: latest.meta.run, step: latest.meta.globalStep, over: latest.meta.stage === 'done' || latest.meta.stage === 'failed' }] : [];
  });
  return { checkpoints, finalOutputs: existsSync(join(dir, FINAL_OUTPUT)) };
}

/** Relative to the working directory when inside it (`runs/x`), else absolute. */
function shownPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}
