/**
 * Which of a run's metric records were written before a checkpoint of it was taken: on resume
 * the run's metrics.jsonl keeps exactly those, so the resumed run writes every later record once
 * and the file reads as an uninterrupted run's (plus a `resume` record per restart).
 *
 * The order TrainingRun writes in (training-run.ts), for a checkpoint at step k:
 *
 *   step k ─► periodic checkpoint k (next: 'validation' when step k made one due, 'test' when
 *          only a periodic test score is: eval.test every, no validation split)
 *          ─► validation at k ─► [periodic test at k (eval.test: every)]
 *          ─► [early stop / out of steps ─► out-of-bag at k ─► test at k
 *          ─► summary, checkpoint k (stage 'done')]
 *
 * and a stop checkpoint (SIGTERM) records the run as it stands between phases. So:
 *
 *   step j                 kept iff j ≤ k
 *   eval (any split) at j  kept iff j < k, or j = k and it came before the checkpoint:
 *     validation at k      unless the checkpoint says validation is next (stage 'train', next 'validation')
 *     out-of-bag at k      iff the checkpoint holds the out-of-bag metrics
 *     test at k            during training (a periodic score): unless validation or test is next;
 *                          after it: iff the run was done (the final test is scored last)
 *   resume at j            kept iff j ≤ k (a restart the run's history still goes through)
 *   records of other runs, and records without a step, are not this run's to judge: kept
 *   a record of an unknown type at j kept iff j ≤ k
 */
import type { RunCheckpointMeta } from './run-records.js';

/** What the rule needs from a checkpoint (old checkpoints lack the optional fields). */
export type CheckpointPosition = Pick<RunCheckpointMeta, 'run' | 'globalStep' | 'stage' | 'next'> & Partial<Pick<RunCheckpointMeta, 'outOfBag' | 'test'>>;

/** A predicate over metric records: whether the record was on disk when the checkpoint was taken. */
export function writtenBeforeCheckpoint(c: CheckpointPosition): (record: Record<string, unknown>) => boolean {
  const k = c.globalStep;
  return (r) => {
    if (r.run !== c.run || typeof r.step !== 'number') return true;
    const j = r.step;
    if (j !== k || r.type !== 'eval') return j <= k;
    switch (r.split) {
      case 'validation':
        return !(c.stage === 'train' && c.next === 'validation');
      case 'oob':
        return c.stage === 'done' || (c.outOfBag !== undefined && c.outOfBag !== null);
      case 'test':
        if (c.stage === 'train') return c.next !== 'validation' && c.next !== 'test';
        return c.stage === 'done' || (c.test !== undefined && c.test !== null);
      default:
        return true;
    }
  };
}

/** Before a run's first step nothing of it is on disk: a run that starts from the beginning keeps no record of its own. */
export function writtenBeforeStart(run: string): (record: Record<string, unknown>) => boolean {
  return (r) => r.run !== run;
}
