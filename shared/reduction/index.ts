/** The fixed reduction tree over a step's micro-batches: its geometry, node values where they are computed, and the sum of received nodes. */
export * from './errors.js';
export * from './tree.js';
export { TreeSum } from './tree-sum.js';
export { reduceNode, vectorsForLevel, type LeafFn } from './reduce-node.js';
