/**
 * How a phase's leaves (micro-batches or eval shards) become tasks: the nodes of one level of the
 * phase's reduction tree (shared/reduction/tree.ts), the coarsest level that still gives every
 * worker a task. One worker gets a whole step as one task (one parameter download, one gradient
 * upload); N workers get N or more blocks of adjacent micro-batches. Every grouping gives the
 * same bits, so the choice is free to follow the pool as it grows and shrinks.
 */
import { nodeRange, nodesAtLevel, taskLevel } from '../../shared/reduction/index.js';
import type { PhaseSpec, TaskSpec } from '../run/task.js';

/** The tasks of `phase` for a pool of `workers` workers (at least one task, even with none yet). */
export function tasksOf(phase: PhaseSpec, workers: number): TaskSpec[] {
  const k = phase.leaves.length;
  if (k === 0) return [];
  return nodesAtLevel(k, taskLevel(k, Math.max(1, workers))).map((node, index) => {
    const { begin, end } = nodeRange(node, k);
    return { runId: phase.runId, phase: phase.name, kind: phase.kind, step: phase.step, index, node, k, leaves: phase.leaves.slice(begin, end), ...(phase.split ? { split: phase.split } : {}), ...(phase.dropout !== undefined ? { dropout: phase.dropout } : {}), ...(phase.augmentSeed !== undefined ? { augmentSeed: phase.augmentSeed } : {}) };
  });
}
