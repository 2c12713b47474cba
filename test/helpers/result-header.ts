/** A worker's result header for a training task, as an honest worker would send it (tests override fields to forge one). */
import { TaskKind, type ResultHeader } from '../../shared/proto/gen/cluster.js';
import type { TaskSpec } from '../../coordinator/run/task.js';

export function trainResultHeader(workerId: string, jobId: string, t: TaskSpec, over: Partial<ResultHeader> = {}): ResultHeader {
  return {
    workerId,
    jobId,
    runId: t.runId,
    step: t.step,
    microbatch: t.index,
    kind: TaskKind.TRAIN,
    paramVersion: t.step,
    leaves: t.leaves.map((l) => ({ count: l.indices.length, loss: 1, headLosses: [1], headNormalizers: [], correct: 0, hasCorrect: false, attacks: [] })),
    computeMs: 1,
    codec: 'none',
    phase: t.phase,
    wantNext: false,
    ...over,
  };
}
