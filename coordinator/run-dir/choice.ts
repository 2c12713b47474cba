/**
 * Which run directory `coordinator start` uses when neither --run-dir nor the job's run_dir names
 * one: the facts about the timestamped directories under `runs/` go in, a choice comes out. No
 * I/O here (default.ts gathers the facts and acts on the choice), so every rule is
 * tested as a table.
 *
 *   runs/<name>-<time>/ of this job config, newest only ─► no good checkpoint      ─► new directory
 *                                                        ├► every run over and
 *                                                        │  final-params.json       ─► new directory
 *                                                        └► anything else           ─► resume it
 *
 * Only the NEWEST directory of this job config is considered, not the newest unfinished one: a
 * rerun continues the last attempt when there is something to continue. An older unfinished
 * directory behind a newer one was left behind on purpose (`--fresh`, or a start before this
 * rule existed), and silently going back to it would undo that choice.
 *
 * "Finished" is what the coordinator itself concludes after restoring: every run's newest good
 * checkpoint has stage done or failed (coordinator.ts: "every run in … is already done"), and,
 * stricter, the coordinator got as far as its last output, final-params.json (written after the
 * ensemble is scored). A directory whose runs are all over but that lacks it lost its coordinator
 * in the last moments: resuming it trains nothing and only writes what is missing.
 *
 * A directory with an identity but no good checkpoint lost its coordinator before the first
 * checkpoint: nothing in it can be resumed, its metrics.jsonl holds steps that a restart would
 * write a second time (metrics are rewound only to a checkpoint), and it may be a coordinator
 * still starting up right now; a new directory is cleaner and safer.
 */

/** A timestamped directory under runs/ named after this job. */
export interface RunDirCandidate {
  path: string;
  /** The time in its name (ms since the epoch). */
  createdMs: number;
  /** Its job-identity.json holds this job's fingerprint. */
  sameConfig: boolean;
}

/** The newest good checkpoint of one run in a candidate directory. */
export interface RunCheckpointFact {
  run: string;
  step: number;
  /** Stage done or failed: the run has nothing left to train. */
  over: boolean;
}

/** What a candidate directory holds, as far as resuming goes. */
export interface ResumeFacts {
  checkpoints: readonly RunCheckpointFact[];
  /** final-params.json exists: the coordinator reached the end of the job. */
  finalOutputs: boolean;
}

export type RunDirDecision =
  /** Some run has training left. */
  | { action: 'resume'; why: 'training' }
  /** Every run is over, but the coordinator died before it wrote the job's final outputs. */
  | { action: 'resume'; why: 'final-outputs' }
  | { action: 'new'; why: 'no-checkpoint' | 'finished' };

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/;

/** `<job name>-<ISO time with : and . as ->`, the name of a new run directory. */
export function timestampedRunDirName(jobName: string, at: Date): string {
  return `${jobName}-${at.toISOString().replace(/[:.]/g, '-')}`;
}

/** The time in a directory name written by timestampedRunDirName for this job, else undefined. */
export function runDirNameTime(jobName: string, dirName: string): number | undefined {
  if (!dirName.startsWith(`${jobName}-`)) return undefined;
  const stamp = dirName.slice(jobName.length + 1);
  if (!TIMESTAMP.test(stamp)) return undefined;
  // 2025-01-02T03-04-05-678Z → 2025-01-02T03:04:05.678Z
  const ms = Date.parse(`${stamp.slice(0, 13)}:${stamp.slice(14, 16)}:${stamp.slice(17, 19)}.${stamp.slice(20)}`);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The newest candidate of this job config (the only one a rerun may resume). */
export function newestOfThisConfig(candidates: readonly RunDirCandidate[]): RunDirCandidate | undefined {
  let newest: RunDirCandidate | undefined;
  for (const c of candidates) if (c.sameConfig && (!newest || c.createdMs > newest.createdMs)) newest = c;
  return newest;
}

/** Whether the directory whose facts these are is resumed; `runCount` is how many runs the job has. */
export function resumeDecision(facts: ResumeFacts, runCount: number): RunDirDecision {
  if (facts.checkpoints.length === 0) return { action: 'new', why: 'no-checkpoint' };
  // A run without a checkpoint starts from the beginning when resumed: not over.
  const everyRunOver = facts.checkpoints.length >= runCount && facts.checkpoints.every((c) => c.over);
  if (!everyRunOver) return { action: 'resume', why: 'training' };
  return facts.finalOutputs ? { action: 'new', why: 'finished' } : { action: 'resume', why: 'final-outputs' };
}

/** The line printed when a directory is resumed; `shownPath` is how the user should see it. */
export function resumeLine(shownPath: string, facts: ResumeFacts, decision: RunDirDecision & { action: 'resume' }, runCount: number): string {
  const at = [...facts.checkpoints].sort((a, b) => a.run.localeCompare(b.run, 'en', { numeric: true }));
  let state: string;
  if (decision.why === 'final-outputs') state = 'every run is over, but its final outputs were not written';
  else if (runCount === 1 && at.length === 1) state = `last checkpoint at step ${at[0]!.step}`;
  else state = `last checkpoints: ${at.map((c) => `${c.run} at step ${c.step}${c.over ? ' (over)' : ''}`).join(', ')}${at.length < runCount ? `; ${runCount - at.length} of ${runCount} runs have none yet` : ''}`;
  return `resuming the unfinished run directory ${shownPath} (same job config, ${state}); pass --fresh to start a new one`;
}
