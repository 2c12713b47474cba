/**
 * Workers without processes or sockets, for tests that drive TrainingRuns through a Scheduler
 * with real onnxruntime sessions. A simulated worker computes a task as worker/compute/thread.ts
 * does: the weights of the task's version copied into a fixed arena the sessions read, each leaf
 * (micro-batch) computed by computeLeaf into a vector of that arena, the task's leaves added over
 * the reduction tree by reduceNode, and the node's value copied into a vector of the runs' arena
 * (where the coordinator decodes an uploaded result), handed over as the result's vector.
 */
import type { PhaseOwner } from '../../coordinator/dispatch/scheduler.js';
import { tasksOf } from '../../coordinator/dispatch/task-grouping.js';
import type { PhaseSpec, TaskResult, TaskSpec } from '../../coordinator/run/task.js';
import type { EvalGraph, TrainingGraph } from '../../shared/autodiff/compile-types.js';
import { gatherBatch, type BatchMemory } from '../../shared/data/batch.js';
import type { Dataset } from '../../shared/data/dataset.js';
import { cpuDevice } from '../../shared/engine/cpu.js';
import { computeLeaf, type LeafStats } from '../../shared/engine/leaf.js';
import { EvalRunner, TrainingRunner } from '../../shared/engine/runner.js';
import { Arena, type FlatVector } from '../../shared/kernels/index.js';
import { reduceNode, rootLevel, vectorsForLevel } from '../../shared/reduction/index.js';

/** What a run must offer to be driven through a Scheduler (TrainingRun is one). */
export interface DrivenRun {
  readonly id: number;
  readonly pieceSizes: readonly number[];
  taskDone(phase: string, task: TaskSpec, result: TaskResult): void;
  completePhase(phase: string, results: TaskResult[]): PhaseSpec | null;
  currentParams(): { version: number; params: Float32Array[]; buffers: Float32Array[] };
}

/**
 * The run as the Scheduler sees it, its phases grouped for a pool of `workers` workers, as the
 * Dispatcher does (dispatcher.ts's tracked()).
 */
export function phaseOwner(run: DrivenRun, workers: number): PhaseOwner {
  return {
    id: run.id,
    taskDone: (phase, task, result) => run.taskDone(phase, task, result),
    completePhase: (phase, results) => tasksFor(run.completePhase(phase, results), workers),
  };
}

/** A phase's tasks for a pool of `workers` workers (none for a run that is over). */
export function tasksFor(phase: PhaseSpec | null, workers: number): TaskSpec[] {
  return phase ? tasksOf(phase, workers) : [];
}

/**
 * Changes a leaf's gradients after onnxruntime wrote them and before the leaf is checked (a
 * faulty device): `leaf` is the micro-batch's index in its step.
 */
export type Corrupt = (task: TaskSpec, leaf: number, grads: readonly Float32Array[]) => void;

export class SimulatedWorker {
  private loaded: { runId: number; version: number } | undefined;
  private readonly batchMemory: BatchMemory = {};

  private constructor(
    readonly id: string,
    private readonly runner: TrainingRunner,
    private readonly evaluator: EvalRunner,
    private readonly dataset: Dataset,
    private readonly arena: Arena,
    private readonly weights: FlatVector,
    private readonly pieceSizes: number[],
  ) {}

  /** A worker for a job whose steps have at most `microbatchesPerStep` micro-batches. */
  static async open(id: string, train: TrainingGraph, evaluation: EvalGraph, dataset: Dataset, microbatchesPerStep: number): Promise<SimulatedWorker> {
    const runner = await TrainingRunner.open(train, cpuDevice());
    const shapes = new Map([...train.params, ...train.buffers].map((p) => [p.name, p.shape] as const));
    const evaluator = await EvalRunner.open(evaluation, cpuDevice(), shapes);
    const pieceSizes = [...train.params.map((p) => p.init.length), ...train.buffers.map((b) => b.init.length)];
    const arena = Arena.fixedFor([{ sizes: pieceSizes, count: 1 + vectorsForLevel(rootLevel(Math.max(1, microbatchesPerStep))) }]);
    const weights = arena.vector(pieceSizes);
    const p = train.params.length;
    runner.setParams(weights.parts.slice(0, p));
    runner.setBuffers(weights.parts.slice(p));
    const index = (names: readonly string[], list: readonly { name: string }[]) => names.map((n) => list.findIndex((x) => x.name === n));
    evaluator.setWeights(
      index(evaluation.params, train.params).map((i) => weights.parts[i]!),
      index(evaluation.buffers, train.buffers).map((i) => weights.parts[p + i]!),
    );
    return new SimulatedWorker(id, runner, evaluator, dataset, arena, weights, pieceSizes);
  }

  /**
   * Computes `task` on `version`'s weights (`params` and `buffers`, which may live in the runs'
   * arena); a train result's vector is allocated from `runArena`.
   */
  async compute(task: TaskSpec, current: { version: number; params: readonly Float32Array[]; buffers: readonly Float32Array[] }, runArena: Arena, corrupt?: Corrupt): Promise<TaskResult> {
    if (current.version !== task.step) throw new Error(`task ${task.phase}/${task.index} needs version ${task.step}; the run is at ${current.version}`);
    if (this.loaded?.runId !== task.runId || this.loaded.version !== current.version) {
      this.weights.setParts([...current.params, ...current.buffers]);
      this.loaded = { runId: task.runId, version: current.version };
    }
    const leaves: LeafStats[] = [];
    if (task.kind === 'eval') {
      for (const leaf of task.leaves) {
        const r = await this.evaluator.evaluate(gatherBatch(this.dataset, leaf.indices, this.batchMemory));
        leaves.push({ count: r.count, loss: r.lossSum, headLosses: r.headLossSums, headNormalizers: r.headNormalizers, correct: r.correct });
      }
      return { leaves, workerId: this.id, computeMs: 0 };
    }
    const first = task.node.index * 2 ** task.node.level;
    const node = await reduceNode(task.node, task.k, this.arena, this.pieceSizes, async (j, into) => {
      const runner = corrupt ? faulty(this.runner, (grads) => corrupt(task, j, grads)) : this.runner;
      const leaf = task.leaves[j - first]!;
      leaves[j - first] = await computeLeaf(runner, gatherBatch(this.dataset, leaf.indices, this.batchMemory), leaf.indices, leaf.maskSeed, into);
    });
    const vector = runArena.vector(this.pieceSizes);
    vector.copyFrom(node);
    this.arena.release(node);
    return { leaves, vector, workerId: this.id, computeMs: 0 };
  }
}

/** A runner whose gradients pass through `corrupt` before anyone reads them. */
function faulty(runner: TrainingRunner, corrupt: (grads: readonly Float32Array[]) => void): TrainingRunner {
  return {
    graph: runner.graph,
    step: async (...args: Parameters<TrainingRunner['step']>) => {
      const r = await runner.step(...args);
      corrupt(r.grads);
      return r;
    },
  } as unknown as TrainingRunner;
}

/** `n` simulated workers w0 … w(n−1). */
export function openWorkers(n: number, train: TrainingGraph, evaluation: EvalGraph, dataset: Dataset, microbatchesPerStep: number): Promise<SimulatedWorker[]> {
  return Promise.all(Array.from({ length: n }, (_, w) => SimulatedWorker.open(`w${w}`, train, evaluation, dataset, microbatchesPerStep)));
}
