/**
 * Adds the node values of one step over the reduction tree (tree.ts) as they arrive, in any
 * order: a node whose sibling is already here is added to it at once (left + right) and the sum
 * moves up a level, so the work is done while other nodes are still on their way and memory holds
 * only nodes still waiting for a sibling. A node whose sibling covers nothing moves up unchanged.
 * The vectors handed in become the TreeSum's: they are released to their arena once added.
 */
import type { Arena, FlatVector } from '../kernels/index.js';
import { sameLayout } from '../kernels/index.js';
import { ReductionError } from './errors.js';
import { isNodeOf, nodeKey, nodeRange, parentOf, rootLevel, siblingOf, type TreeNode } from './tree.js';

export class TreeSum {
  private readonly top: number;
  /** Values of complete nodes not yet added to their sibling. */
  private readonly waiting = new Map<string, FlatVector>();
  /** Every node whose value is known (received or computed here). */
  private readonly known = new Set<string>();
  private result: FlatVector | undefined;

  constructor(
    /** Micro-batches in the step. */
    readonly k: number,
    private readonly arena: Arena,
    /** Tensor sizes of every value (the gradient's, then the weighted buffer states). */
    readonly sizes: readonly number[],
  ) {
    this.top = rootLevel(k);
  }

  /** Whether the step's sum is complete. */
  get complete(): boolean {
    return this.known.has(nodeKey({ level: this.top, index: 0 }));
  }

  /** Whether `node`'s value is known already (received, or added up from what was received). */
  covers(node: TreeNode): boolean {
    for (let n = node; n.level <= this.top; n = parentOf(n)) if (this.known.has(nodeKey(n))) return true;
    return false;
  }

  /**
   * Takes `node`'s value. @throws ReductionError for a node outside the tree, a value of another
   * layout, or a node already covered (the caller decides which result counts, before this).
   */
  add(node: TreeNode, value: FlatVector): void {
    if (!isNodeOf(node, this.k)) throw new ReductionError(`node ${nodeKey(node)} is not in the reduction tree of ${this.k} micro-batches`);
    if (value.arena !== this.arena || !sameLayout(value.sizes, this.sizes)) throw new ReductionError(`node ${nodeKey(node)}: value of another layout or arena`);
    if (this.covers(node)) throw new ReductionError(`node ${nodeKey(node)} is already in the sum`);
    let n = node;
    let v = value;
    for (;;) {
      this.known.add(nodeKey(n));
      if (n.level === this.top) {
        this.result = v;
        return;
      }
      const sib = siblingOf(n);
      const { begin, end } = nodeRange(sib, this.k);
      if (begin < end) {
        const other = this.waiting.get(nodeKey(sib));
        if (!other) {
          this.waiting.set(nodeKey(n), v);
          return;
        }
        this.waiting.delete(nodeKey(sib));
        const [left, right] = n.index % 2 === 0 ? [v, other] : [other, v];
        this.arena.kernels.add(left.ptr, left.ptr, right.ptr, left.padded);
        this.arena.release(right);
        v = left;
      }
      n = parentOf(n);
    }
  }

  /** The step's sum (owned by the caller from now on). @throws ReductionError while incomplete. */
  take(): FlatVector {
    if (!this.result) throw new ReductionError(this.complete ? "the step's sum was taken already" : `the step's sum is incomplete: ${this.k} micro-batches, nodes known: ${[...this.known].join(', ') || 'none'}`);
    const r = this.result;
    this.result = undefined;
    return r;
  }

  /** Releases every value still held (a step abandoned or skipped). */
  dispose(): void {
    for (const v of this.waiting.values()) this.arena.release(v);
    this.waiting.clear();
    if (this.result) this.arena.release(this.result);
    this.result = undefined;
  }
}
