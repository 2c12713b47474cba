/** A task as the worker sees it, taken from the wire form. */
import { TaskKind, type Task, type TaskRef } from '../shared/proto/gen/cluster.js';
import { indicesFromBytes } from '../shared/cluster/tensor-stream.js';
import type { TreeNode } from '../shared/reduction/index.js';

export interface WorkTask {
  runId: number;
  phase: string;
  index: number;
  kind: 'train' | 'eval';
  /** Parameter version the task must be computed on. */
  version: number;
  /** The node of the phase's reduction tree the task computes, and the phase's leaf count. */
  node: TreeNode;
  k: number;
  /** Its micro-batches (train) or shards (eval), in order. */
  leaves: { indices: Uint32Array; maskSeed: number }[];
  split: string;
  /** The run's dropout probability, when it is not the graph's. */
  dropout?: number;
  /** Train with augmentation: the step's augmentation seed. */
  augmentSeed?: number;
}

export class MalformedTaskError extends Error {
  override name = 'MalformedTaskError';
}

export function workTaskFrom(t: Task): WorkTask {
  const key = `${t.runId}/${t.phase}/${t.microbatch}`;
  if (t.kind !== TaskKind.TRAIN && t.kind !== TaskKind.EVAL) throw new MalformedTaskError(`task ${key} has kind ${t.kind}, expected TRAIN or EVAL`);
  const all = indicesFromBytes(t.sampleIndices);
  const total = t.leafSizes.reduce((a, n) => a + n, 0);
  if (total !== all.length) throw new MalformedTaskError(`task ${key}: its leaves hold ${total} samples, its indices ${all.length}`);
  if (t.maskSeeds.length !== t.leafSizes.length) throw new MalformedTaskError(`task ${key}: ${t.leafSizes.length} leaves but ${t.maskSeeds.length} mask seeds`);
  let at = 0;
  const leaves = t.leafSizes.map((n, j) => {
    const indices = all.subarray(at, at + n);
    at += n;
    return { indices, maskSeed: t.maskSeeds[j]! };
  });
  return {
    runId: t.runId,
    phase: t.phase,
    index: t.microbatch,
    kind: t.kind === TaskKind.TRAIN ? 'train' : 'eval',
    version: t.paramVersion,
    node: { level: t.nodeLevel, index: t.nodeIndex },
    k: t.stepMicrobatches,
    leaves,
    split: t.evalSplit,
    ...(t.dropout !== undefined ? { dropout: checkedDropout(t.dropout, key) } : {}),
    ...(t.augmentSeed !== undefined ? { augmentSeed: t.augmentSeed } : {}),
  };
}

function checkedDropout(p: number, key: string): number {
  if (!(p >= 0 && p < 1)) throw new MalformedTaskError(`task ${key}: dropout probability ${p} is not in [0, 1)`);
  return p;
}

export function taskRef(t: WorkTask): TaskRef {
  return { runId: t.runId, phase: t.phase, microbatch: t.index };
}

export function describeTask(t: WorkTask): string {
  return `${t.runId}/${t.phase}/${t.index}`;
}
