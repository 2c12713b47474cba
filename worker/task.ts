/** A task as the worker sees it, taken from the wire form. */
import { TaskKind, type Task, type TaskRef } from '../shared/proto/gen/cluster.js';
import { indicesFromBytes } from '../shared/cluster/tensor-stream.js';

export interface WorkTask {
  runId: number;
  phase: string;
  index: number;
  kind: 'train' | 'eval';
  /** Parameter version the task must be computed on. */
  version: number;
  indices: Uint32Array;
  maskSeed: number;
  split: string;
}

export function workTaskFrom(t: Task): WorkTask {
  if (t.kind !== TaskKind.TRAIN && t.kind !== TaskKind.EVAL) throw new Error(`task ${t.runId}/${t.phase}/${t.microbatch} has kind ${t.kind}, expected TRAIN or EVAL`);
  return {
    runId: t.runId,
    phase: t.phase,
    index: t.microbatch,
    kind: t.kind === TaskKind.TRAIN ? 'train' : 'eval',
    version: t.paramVersion,
    indices: indicesFromBytes(t.sampleIndices),
    maskSeed: t.maskSeed,
    split: t.evalSplit,
  };
}

export function taskRef(t: WorkTask): TaskRef {
  return { runId: t.runId, phase: t.phase, microbatch: t.index };
}

export function describeTask(t: WorkTask): string {
  return `${t.runId}/${t.phase}/${t.index}`;
}
