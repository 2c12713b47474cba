/** Phases, units of work and their results, as the scheduler and the runs see them (no wire types). */
import type { FlatVector } from '../../shared/kernels/index.js';
import type { LeafStats } from '../../shared/engine/leaf.js';
import type { TreeNode } from '../../shared/reduction/index.js';

export type TaskKind = 'train' | 'eval';
export type EvalSplit = 'validation' | 'test' | 'oob';

export function isEvalSplit(s: string | undefined): s is EvalSplit {
  return s === 'validation' || s === 'test' || s === 'oob';
}

/** One micro-batch (train) or one shard (eval). */
export interface LeafSpec {
  /** Sample indices into the dataset. */
  indices: Uint32Array;
  /** Seed of the micro-batch's dropout masks (0 for eval). */
  maskSeed: number;
}

/**
 * What a run needs done next: a training step's micro-batches, or an evaluation's shards. How
 * they are grouped into tasks is the dispatcher's decision (dispatch/task-grouping.ts); every
 * grouping gives the same result.
 */
export interface PhaseSpec {
  runId: number;
  /** Identifies the phase inside the run: `train:<step>` or `eval:<split>:<step>:<version>`. */
  name: string;
  kind: TaskKind;
  /** The parameter version the phase computes on. */
  step: number;
  leaves: LeafSpec[];
  split?: EvalSplit;
  /** Train: the run's dropout probability for every dropout layer (model.dropout), instead of the graph's. */
  dropout?: number;
  /** Train, with the job's `augment:` block: the seed of the step's augmentations (run seed and epoch). */
  augmentSeed?: number;
}

export interface TaskSpec {
  runId: number;
  /** The phase's name. */
  phase: string;
  kind: TaskKind;
  /** The parameter version the task needs. */
  step: number;
  /** The task's index inside the phase (the scheduler's key). */
  index: number;
  /** The node of the phase's reduction tree the task computes: leaves node.index·2^node.level onwards. */
  node: TreeNode;
  /** Leaves in the whole phase (k of the reduction tree). */
  k: number;
  /** The node's leaves, in order. */
  leaves: LeafSpec[];
  split?: EvalSplit;
  dropout?: number;
  augmentSeed?: number;
}

export interface TaskResult {
  /** One entry per leaf of the task, in order. */
  leaves: LeafStats[];
  /**
   * train: the node's value, gradient sums then count-weighted buffer states, in the runs'
   * arena. The run takes it (TrainingRun.acceptResult) as soon as the result is accepted.
   */
  vector?: FlatVector;
  workerId: string;
  computeMs: number;
}

export function taskKey(t: Pick<TaskSpec, 'runId' | 'phase' | 'index'>): string {
  return `${t.runId}/${t.phase}/${t.index}`;
}

/** Samples in a list of leaves. */
export function sampleCount(leaves: readonly { indices: Uint32Array }[]): number {
  return leaves.reduce((a, l) => a + l.indices.length, 0);
}
