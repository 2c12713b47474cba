/**
 * A node's value computed where its micro-batches are: each leaf (micro-batch) is computed in
 * index order and the values are added over the reduction tree (tree.ts) as soon as both halves
 * of a node are there, so at most level + 1 vectors are alive at once.
 */
import type { Arena, FlatVector } from '../kernels/index.js';
import { childrenOf, nodeRange, type TreeNode } from './tree.js';

/** Writes micro-batch `index`'s value into `into` (a zero-filled vector of the step's layout). */
export type LeafFn = (index: number, into: FlatVector) => Promise<void> | void;

/** The value of `node` of the tree over k micro-batches, in a vector of `arena` the caller then owns. */
export async function reduceNode(node: TreeNode, k: number, arena: Arena, sizes: readonly number[], leaf: LeafFn): Promise<FlatVector> {
  if (node.level === 0) {
    const v = arena.vector(sizes);
    try {
      await leaf(node.index, v);
    } catch (e) {
      arena.release(v);
      throw e;
    }
    return v;
  }
  const [l, r] = childrenOf(node);
  const left = await reduceNode(l, k, arena, sizes, leaf);
  const { begin, end } = nodeRange(r, k);
  if (begin >= end) return left;
  let right: FlatVector;
  try {
    right = await reduceNode(r, k, arena, sizes, leaf);
  } catch (e) {
    arena.release(left);
    throw e;
  }
  arena.kernels.add(left.ptr, left.ptr, right.ptr, left.padded);
  arena.release(right);
  return left;
}

/** How many vectors reduceNode holds at most for a node of `level` (the arena must have room for them). */
export function vectorsForLevel(level: number): number {
  return level + 1;
}
