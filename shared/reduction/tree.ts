/**
 * The fixed reduction tree over a step's k micro-batches. A step's gradient is not summed in
 * arrival order, nor in one running sum whose grouping would depend on who computed what, but
 * over this tree, which depends on k alone:
 *
 *   node (h, j) covers micro-batches [j·2^h, (j+1)·2^h) ∩ [0, k)
 *   value(0, j) = micro-batch j's gradient sum
 *   value(h, j) = value(h−1, 2j) + value(h−1, 2j+1)   (float32 addition, left + right)
 *               = value(h−1, 2j)                        when the right child covers nothing
 *   the step's sum = value(H, 0) with H = ⌈log₂ k⌉
 *
 * Any node's value can be computed by whoever owns its micro-batches: a worker given the node
 * (h, j) computes its 2^h micro-batches, adds them over this tree itself and sends one vector, and
 * the coordinator adds the nodes it receives over the same tree. Every grouping of the work gives
 * the same additions in the same order, so the same bits, whether one worker computed the whole
 * step or every micro-batch came from a different worker (and pairwise summation keeps the
 * rounding error to O(log k) float32 roundings).
 */
import { ReductionError } from './errors.js';

export interface TreeNode {
  level: number;
  index: number;
}

/** ⌈log₂ k⌉: the root's level for k micro-batches. */
export function rootLevel(k: number): number {
  if (!Number.isInteger(k) || k < 1) throw new ReductionError(`a step needs at least one micro-batch, got ${k}`);
  let h = 0;
  while (2 ** h < k) h++;
  return h;
}

export function rootOf(k: number): TreeNode {
  return { level: rootLevel(k), index: 0 };
}

/** The micro-batches [begin, end) a node covers; empty (begin ≥ end) for a node past the last one. */
export function nodeRange(node: TreeNode, k: number): { begin: number; end: number } {
  const width = 2 ** node.level;
  const begin = node.index * width;
  return { begin, end: Math.min(k, begin + width) };
}

/** The nodes of one level that cover any micro-batch, in index order. */
export function nodesAtLevel(k: number, level: number): TreeNode[] {
  if (!Number.isInteger(level) || level < 0 || level > rootLevel(k)) throw new ReductionError(`level ${level} is outside the tree of ${k} micro-batches (0..${rootLevel(k)})`);
  const width = 2 ** level;
  return Array.from({ length: Math.ceil(k / width) }, (_, index) => ({ level, index }));
}

/**
 * The level whose nodes become a step's tasks when `workers` workers share it: the coarsest one
 * that still has a node for every worker (fewer, larger tasks: each one is a single upload of
 * the gradient), or the leaves when there are more workers than micro-batches.
 */
export function taskLevel(k: number, workers: number): number {
  const top = rootLevel(k);
  const want = Math.max(1, Math.min(workers, k));
  for (let h = top; h > 0; h--) if (Math.ceil(k / 2 ** h) >= want) return h;
  return 0;
}

export function parentOf(node: TreeNode): TreeNode {
  return { level: node.level + 1, index: Math.floor(node.index / 2) };
}

export function siblingOf(node: TreeNode): TreeNode {
  return { level: node.level, index: node.index ^ 1 };
}

export function childrenOf(node: TreeNode): [TreeNode, TreeNode] {
  if (node.level === 0) throw new ReductionError('a leaf has no children');
  return [
    { level: node.level - 1, index: 2 * node.index },
    { level: node.level - 1, index: 2 * node.index + 1 },
  ];
}

export function nodeKey(node: TreeNode): string {
  return `${node.level}:${node.index}`;
}

/** Whether `node` is a valid node of the tree over k micro-batches (it covers at least one). */
export function isNodeOf(node: TreeNode, k: number): boolean {
  if (!Number.isInteger(node.level) || !Number.isInteger(node.index) || node.level < 0 || node.index < 0) return false;
  if (node.level > rootLevel(k)) return false;
  const { begin, end } = nodeRange(node, k);
  return begin < end;
}
