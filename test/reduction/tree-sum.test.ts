/**
 * The reduction tree: the step's sum has the same bits however the micro-batches are grouped into
 * tasks (any level), whoever added which part (worker-side reduceNode, coordinator-side TreeSum)
 * and in whatever order the nodes arrive.
 */
import { describe, expect, it } from 'vitest';
import { Arena, type FlatVector } from '../../shared/kernels/index.js';
import { TreeSum, nodeRange, nodesAtLevel, reduceNode, rootLevel, taskLevel, type TreeNode } from '../../shared/reduction/index.js';
import { Rng } from '../../shared/random.js';

const SIZES = [23, 6, 1];

/** Micro-batch values with magnitudes 2^−30 … 2^30, so that any other grouping of the additions changes the bits. */
function leaves(k: number, seed: number): Float32Array[][] {
  const rng = Rng.seeded(seed);
  return Array.from({ length: k }, () =>
    SIZES.map((n) => {
      const a = new Float32Array(n);
      for (let i = 0; i < n; i++) a[i] = (rng.uniform() * 2 - 1) * 2 ** rng.int(-30, 30);
      return a;
    }),
  );
}

/** The definition, element by element: left + right in float32, a lone left child unchanged. */
function byDefinition(values: Float32Array[][], node: TreeNode, k: number): Float32Array[] {
  if (node.level === 0) return values[node.index]!;
  const left = byDefinition(values, { level: node.level - 1, index: 2 * node.index }, k);
  const rightNode = { level: node.level - 1, index: 2 * node.index + 1 };
  const { begin, end } = nodeRange(rightNode, k);
  if (begin >= end) return left;
  const right = byDefinition(values, rightNode, k);
  return left.map((l, p) => l.map((x, i) => Math.fround(x + right[p]![i]!)));
}

function hex(parts: readonly Float32Array[]): string {
  return parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString('hex')).join('|');
}

async function nodeValue(arena: Arena, values: Float32Array[][], node: TreeNode, k: number): Promise<FlatVector> {
  return reduceNode(node, k, arena, SIZES, (j, into) => into.setParts(values[j]!));
}

describe('reduction tree geometry', () => {
  it('puts the root at ⌈log₂ k⌉ and covers exactly the micro-batches', () => {
    expect([1, 2, 3, 4, 5, 8, 9, 64].map(rootLevel)).toEqual([0, 1, 2, 2, 3, 3, 4, 6]);
    expect(nodeRange({ level: 2, index: 1 }, 7)).toEqual({ begin: 4, end: 7 });
    expect(nodesAtLevel(7, 1).map((n) => nodeRange(n, 7))).toEqual([
      { begin: 0, end: 2 },
      { begin: 2, end: 4 },
      { begin: 4, end: 6 },
      { begin: 6, end: 7 },
    ]);
  });

  it('gives each worker one large task when it can, and single micro-batches when workers outnumber them', () => {
    expect(taskLevel(8, 1)).toBe(3);
    expect(taskLevel(8, 2)).toBe(2);
    expect(taskLevel(8, 4)).toBe(1);
    expect(taskLevel(8, 8)).toBe(0);
    expect(taskLevel(8, 100)).toBe(0);
    expect(taskLevel(1, 4)).toBe(0);
    expect(taskLevel(5, 2)).toBe(2);
  });
});

describe('TreeSum and reduceNode', () => {
  it('give the same bits for every task level, arrival order and k, equal to the definition', async () => {
    const arena = Arena.growable();
    const rng = Rng.seeded(9);
    for (let k = 1; k <= 13; k++) {
      const values = leaves(k, 100 + k);
      const expected = hex(byDefinition(values, { level: rootLevel(k), index: 0 }, k));
      for (let level = 0; level <= rootLevel(k); level++) {
        for (let trial = 0; trial < 4; trial++) {
          const nodes = nodesAtLevel(k, level);
          const sum = new TreeSum(k, arena, SIZES);
          for (const at of rng.permutation(nodes.length)) {
            expect(sum.complete).toBe(false);
            sum.add(nodes[at]!, await nodeValue(arena, values, nodes[at]!, k));
          }
          expect(sum.complete).toBe(true);
          const root = sum.take();
          expect(hex(root.parts)).toBe(expected);
          arena.release(root);
        }
      }
    }
  });

  it('differs from a running sum in arrival order on the same data (the grouping matters)', () => {
    const k = 8;
    const values = leaves(k, 5);
    const expected = hex(byDefinition(values, { level: 3, index: 0 }, k));
    const running = values[0]!.map((p, t) => p.map((_, i) => values.reduce((acc, v) => Math.fround(acc + v[t]![i]!), 0)));
    expect(hex(running)).not.toBe(expected);
  });

  it('refuses a node already in the sum, one outside the tree, and a value of another layout', async () => {
    const arena = Arena.growable();
    const values = leaves(5, 1);
    const sum = new TreeSum(5, arena, SIZES);
    sum.add({ level: 1, index: 0 }, await nodeValue(arena, values, { level: 1, index: 0 }, 5));
    expect(sum.covers({ level: 0, index: 1 })).toBe(true);
    expect(() => sum.add({ level: 0, index: 1 }, arena.vector(SIZES))).toThrow(/already in the sum/);
    expect(() => sum.add({ level: 1, index: 3 }, arena.vector(SIZES))).toThrow(/not in the reduction tree of 5/);
    expect(() => sum.add({ level: 0, index: 4 }, arena.vector([1]))).toThrow(/another layout/);
    expect(() => sum.take()).toThrow(/incomplete/);
  });

  it('holds only the nodes still waiting for a sibling, and reuses their memory', async () => {
    const arena = Arena.growable();
    const values = leaves(16, 2);
    const sum = new TreeSum(16, arena, SIZES);
    for (const n of nodesAtLevel(16, 0)) sum.add(n, await nodeValue(arena, values, n, 16));
    const used = arena.used;
    const again = new TreeSum(16, arena, SIZES);
    arena.release(sum.take());
    for (const n of nodesAtLevel(16, 0)) again.add(n, await nodeValue(arena, values, n, 16));
    // Adding in order keeps at most two leaves alive; the second step allocates nothing new.
    expect(arena.used).toBe(used);
  });
});
