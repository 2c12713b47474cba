/**
 * Driving TrainingRuns without workers or sessions: made-up results that depend on the
 * parameters and the samples (so different parameters give different steps, and the same ones
 * the same steps), fed phase by phase. Shared by the resume and bagging tests.
 *
 * Results are made the way a worker makes them: a phase's leaves are grouped into tasks by the
 * dispatcher's tasksOf (for `workers` workers), each leaf is written into a vector of a fixed
 * arena, a task's leaves are added over the reduction tree by reduceNode, and the node's value is
 * copied into a vector of the runs' arena (where the coordinator decodes a result) and handed to
 * the run as the result's vector. The runs must therefore be built on `arena` (or on the arena
 * passed to drive).
 */
import type { TrainingRun } from '../../coordinator/run/training-run.js';
import type { LeafSpec, PhaseSpec, TaskResult, TaskSpec } from '../../coordinator/run/task.js';
import { tasksOf } from '../../coordinator/dispatch/task-grouping.js';
import type { LeafStats } from '../../shared/engine/leaf.js';
import { Arena, type FlatVector } from '../../shared/kernels/index.js';
import { reduceNode, vectorsForLevel } from '../../shared/reduction/index.js';
import { Rng } from '../../shared/random.js';

/** The runs' arena of the tests that drive runs with made-up results (one for every run, as in a coordinator). */
export const arena = Arena.growable();

export const sumOf = (xs: Iterable<number>) => {
  let s = 0;
  for (const x of xs) s += x;
  return s;
};

/**
 * A train micro-batch's made-up leaf: gradients that depend on the parameters and the samples,
 * written into `into` (params' gradients, then count × each buffer: the buffers stay as they are).
 */
export function trainLeaf(leaf: LeafSpec, params: readonly Float32Array[], buffers: readonly Float32Array[], into: FlatVector): LeafStats {
  const seed = sumOf(leaf.indices);
  const n = leaf.indices.length;
  params.forEach((p, k) => {
    const g = into.parts[k]!;
    for (let i = 0; i < p.length; i++) g[i] = n * (0.1 * p[i]! + 0.01 * Math.sin(seed + 3 * i + k));
  });
  buffers.forEach((b, j) => {
    const s = into.parts[params.length + j]!;
    for (let i = 0; i < b.length; i++) s[i] = n * b[i]!;
  });
  const loss = n * (1 + 0.1 * Math.cos(seed)) + sumOf(params.map((p) => sumOf(p.map((v) => v * v))));
  return { count: n, loss, headLosses: [loss], headNormalizers: [], correct: undefined };
}

/** An evaluation shard's made-up figures: a loss that moves with the parameters, so every evaluation differs. */
export function evalLeaf(leaf: LeafSpec, params: readonly Float32Array[]): LeafStats {
  const n = leaf.indices.length;
  const loss = n * (sumOf(params.map((p) => sumOf(p.map((v) => v * v)))) + 0.01 * (sumOf(leaf.indices) % 5));
  return { count: n, loss, headLosses: [loss], headNormalizers: [], correct: leaf.indices.filter((i) => i % 3 === 0).length };
}

/**
 * A task's made-up result, computed as a worker computes it: the node's leaves in a fixed arena,
 * added over the reduction tree, the node's value copied into a vector of `runArena`.
 */
export async function madeUpResult(task: TaskSpec, params: readonly Float32Array[], buffers: readonly Float32Array[], pieceSizes: readonly number[], runArena: Arena, workerId = 'w'): Promise<TaskResult> {
  if (task.kind === 'eval') return { leaves: task.leaves.map((l) => evalLeaf(l, params)), workerId, computeMs: 0 };
  const local = Arena.fixedFor([{ sizes: pieceSizes, count: vectorsForLevel(task.node.level) }]);
  const first = task.node.index * 2 ** task.node.level;
  const leaves: LeafStats[] = [];
  const node = await reduceNode(task.node, task.k, local, pieceSizes, (j, into) => {
    leaves[j - first] = trainLeaf(task.leaves[j - first]!, params, buffers, into);
  });
  const vector = runArena.vector(pieceSizes);
  vector.copyFrom(node);
  local.release(node);
  return { leaves, vector, workerId, computeMs: 0 };
}

export interface DriveOptions {
  /** Stop before this phase (it is returned, not run). */
  until?: (next: PhaseSpec) => boolean;
  /** Runs before each phase (e.g. to move a fake clock). */
  beforePhase?: () => void;
  /** The pool the phases are grouped for (tasksOf); default 1: one task per phase. */
  workers?: number;
  /** Results reach the run in the order of a permutation seeded with this; default: task order. */
  arrivalSeed?: number;
  /** The runs' arena; default `arena`. */
  arena?: Arena;
}

/**
 * Completes `run`'s phases until it has none left or `until(next phase)` says stop; returns the
 * phase not run (null once the run is over).
 */
export async function drive(run: TrainingRun, phase: PhaseSpec | null, o: DriveOptions = {}): Promise<PhaseSpec | null> {
  const rng = o.arrivalSeed === undefined ? undefined : Rng.seeded(o.arrivalSeed);
  while (phase && !o.until?.(phase)) {
    o.beforePhase?.();
    const { params, buffers } = run.currentParams();
    const tasks = tasksOf(phase, o.workers ?? 1);
    const results: TaskResult[] = [];
    for (const t of tasks) results.push(await madeUpResult(t, params, buffers, run.pieceSizes, o.arena ?? arena));
    const order = rng ? [...rng.permutation(tasks.length)] : tasks.map((_, i) => i);
    for (const i of order) run.taskDone(phase.name, tasks[i]!, results[i]!);
    phase = run.completePhase(phase.name, results);
  }
  return phase;
}

/** `until` for drive: stop before the phase named `name`. */
export const atPhase = (name: string) => (next: PhaseSpec) => next.name === name;
