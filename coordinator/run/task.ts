/** Units of work and their results, as the scheduler and the runs see them (no wire types). */

export type TaskKind = 'train' | 'eval';
export type EvalSplit = 'validation' | 'test' | 'oob';

export interface TaskSpec {
  runId: number;
  /** Identifies the phase inside the run: `train:<step>` or `eval:<split>:<step>`. */
  phase: string;
  kind: TaskKind;
  /** Global step of the run (the parameter version the task needs). */
  step: number;
  /** Index of the micro-batch (train) or shard (eval) inside the phase: results are summed in this order. */
  index: number;
  /** Sample indices into the dataset. */
  indices: Uint32Array;
  maskSeed: number;
  split?: EvalSplit;
}

export interface TaskResult {
  count: number;
  /** Summed over the micro-batch. */
  loss: number;
  headLosses: number[];
  /** Per head: the normalizer of its summed loss (absent from workers that do not send it). */
  normalizers?: number[];
  correct: number | undefined;
  /** train: gradient sums, one per parameter. */
  grads?: Float32Array[];
  /** train: updated buffers (batch-norm running stats), one per buffer. */
  state?: Float32Array[];
  workerId: string;
  computeMs: number;
}

export function taskKey(t: Pick<TaskSpec, 'runId' | 'phase' | 'index'>): string {
  return `${t.runId}/${t.phase}/${t.index}`;
}
