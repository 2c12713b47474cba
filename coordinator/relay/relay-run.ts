/**
 * What a relay's own Dispatcher sees as its run: each task the relay takes from upstream becomes
 * one phase of it, whose leaves are the task's leaves (k' of them). The relay's workers get that
 * phase's tasks as nodes of the local reduction tree over k' leaves (dispatch/task-grouping.ts),
 * their vectors are added over that tree as they arrive (TreeSum), and the root is the upstream
 * node's value: an upstream task is an aligned node, so the local tree's nodes are its sub-nodes
 * and the root has the bits the node would have had from one worker (shared/reduction/tree.ts).
 * Eval tasks go the same way, leaves only.
 *
 * Parameters: tasks carry the upstream version, and the relay's workers fetch that version from
 * the relay, which serves the upstream task's weights as they were downloaded (views of the
 * Worker's shared-memory slot, padded layout: params, then buffers). Between two upstream tasks
 * the run keeps the last version's weights; the next task replaces them.
 */
import type { LeafStats } from '../../shared/engine/leaf.js';
import { layoutViews, type Arena, type FlatVector } from '../../shared/kernels/index.js';
import { TreeSum } from '../../shared/reduction/index.js';
import type { ComputeTask } from '../../worker/compute/compute.js';
import type { ClusterRun } from '../dispatch/dispatcher.js';
import { isEvalSplit, type PhaseSpec, type TaskResult, type TaskSpec } from '../run/task.js';
import { RelayError, RelayRefusedError, RelayTaskDroppedError } from './errors.js';

/** An upstream task done by the relay's workers: its leaves' figures in order and, for training, the node's value. */
export interface RelayedTask {
  leaves: LeafStats[];
  /** train: the upstream node's value in the relay's arena (the caller owns it and releases it). */
  root?: FlatVector;
  /** From the phase's start to its last result. */
  computeMs: number;
}

export interface RelayRunOptions {
  /** The job's name, for messages. */
  jobName: string;
  /** Tensor sizes of weights and training results alike: params, then buffers. */
  pieceSizes: readonly number[];
  /** How many of pieceSizes are parameters (the rest are buffers). */
  paramCount: number;
  /** Where the relay's workers' vectors are decoded and added. */
  arena: Arena;
  now: () => number;
}

interface ActivePhase {
  spec: PhaseSpec;
  /** The node's sum over the local tree (train phases). */
  sum: TreeSum | undefined;
  startedAt: number;
  resolve(r: RelayedTask): void;
  reject(e: Error): void;
}

interface Weights {
  version: number;
  params: Float32Array[];
  buffers: Float32Array[];
}

export class RelayRun implements ClusterRun {
  /** A plain job's one run (coordinator/run/build-runs.ts): upstream tasks of any other run are refused. */
  readonly id = 0;
  readonly name: string;
  readonly pieceSizes: readonly number[];
  private active: ActivePhase | undefined;
  private weights: Weights = { version: -1, params: [], buffers: [] };
  /** Numbers the phases, so that a late result for an earlier task never counts for a later one. */
  private phases = 0;
  private ended = false;

  constructor(private readonly o: RelayRunOptions) {
    this.name = o.jobName;
    this.pieceSizes = o.pieceSizes;
  }

  /** Set once the relay stops serving the job. */
  get done(): boolean {
    return this.ended;
  }

  /** None: phases start when upstream tasks come (begin). */
  firstPhase(): PhaseSpec | null {
    return null;
  }

  /**
   * Turns an upstream task into this run's phase; the result resolves when the phase completes.
   * A phase still in hand is dropped (the upstream moved on: a re-registration, a reassignment).
   * @throws RelayRefusedError for a task of another run than 0 (an ensemble job).
   */
  begin(task: ComputeTask): { phase: PhaseSpec; result: Promise<RelayedTask> } {
    if (this.ended) throw new RelayTaskDroppedError(`the relay no longer serves job '${this.name}'`);
    if (task.weights.runId !== this.id) throw new RelayRefusedError(this.name, task.weights.runId);
    if (task.leaves.length === 0) throw new RelayError(`an upstream ${task.kind} task (node ${task.node.level}:${task.node.index}) has no leaves`);
    const version = task.weights.version;
    const name = `${task.kind}:${version}:${task.node.level}.${task.node.index}#${++this.phases}`;
    this.drop(new RelayTaskDroppedError(`the upstream handed this relay task ${name} before the one in hand was done`));
    const views = layoutViews(task.weights.buffer, this.pieceSizes);
    this.weights = { version, params: views.slice(0, this.o.paramCount), buffers: views.slice(this.o.paramCount) };
    const spec: PhaseSpec = { runId: this.id, name, kind: task.kind, step: version, leaves: task.leaves.map((l) => ({ indices: l.indices, maskSeed: l.maskSeed })), ...(task.dropout !== undefined ? { dropout: task.dropout } : {}), ...(task.augmentSeed !== undefined ? { augmentSeed: task.augmentSeed } : {}), ...(isEvalSplit(task.split) ? { split: task.split } : {}) };
    const result = new Promise<RelayedTask>((resolve, reject) => {
      this.active = { spec, sum: task.kind === 'train' ? new TreeSum(spec.leaves.length, this.o.arena, this.pieceSizes) : undefined, startedAt: this.o.now(), resolve, reject };
    });
    return { phase: spec, result };
  }

  /** Adds a worker's node to the phase's sum (the vector becomes the sum's; the Dispatcher must not release it). */
  taskDone(phase: string, task: TaskSpec, result: TaskResult): void {
    if (!result.vector) return;
    const vector = result.vector;
    result.vector = undefined;
    const a = this.active;
    if (a?.spec.name !== phase || !a.sum) {
      this.o.arena.release(vector);
      throw new RelayError(`a gradient for phase ${phase} arrived during ${a?.spec.name ?? 'no phase'}`);
    }
    a.sum.add(task.node, vector);
  }

  /** Every local task has its result: the upstream task is done. No next phase until the upstream sends one. */
  completePhase(phase: string, results: TaskResult[]): PhaseSpec | null {
    const a = this.active;
    if (a?.spec.name !== phase) throw new RelayError(`phase ${phase} completed, but the phase in hand is ${a?.spec.name ?? 'none'}`);
    this.active = undefined;
    const leaves = results.flatMap((r) => r.leaves);
    if (leaves.length !== a.spec.leaves.length) {
      a.sum?.dispose();
      const err = new RelayError(`phase ${phase}: ${leaves.length} leaves reported for ${a.spec.leaves.length}`);
      a.reject(err);
      throw err;
    }
    let root: FlatVector | undefined;
    if (a.sum) {
      if (!a.sum.complete) {
        a.sum.dispose();
        const err = new RelayError(`phase ${phase} ended before its sum was complete`);
        a.reject(err);
        throw err;
      }
      root = a.sum.take();
    }
    a.resolve({ leaves, root, computeMs: this.o.now() - a.startedAt });
    return null;
  }

  /** The weights of the upstream task in hand (or the last one): what the relay's workers download. */
  currentParams(): Weights {
    return this.weights;
  }

  /** The relay stops serving the job: the task in hand, if any, is dropped with `reason`. */
  end(reason: string): void {
    this.ended = true;
    this.drop(new RelayTaskDroppedError(reason));
  }

  private drop(err: Error): void {
    const a = this.active;
    if (!a) return;
    this.active = undefined;
    a.sum?.dispose();
    a.reject(err);
  }
}
