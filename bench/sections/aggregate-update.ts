/**
 * The coordinator's per-step arithmetic at scale, beside a plain memory copy of the same bytes
 * timed in the same run:
 * - the ordered sum: N gradient vectors of P parameters added over the reduction tree
 *   (shared/reduction/tree-sum.ts), arriving in a shuffled order; ns per parameter per gradient,
 *   against copying the same N·P·4 bytes once;
 * - clip + AdamW: the mean, NaN check, global norm and clip factor (aggregate/reduce-step.ts)
 *   and AdamW with weight decay applying the clipped gradient; ns per parameter, against copying
 *   the four vectors it reads (gradient, weights, two moments).
 * P = 1M and 10M in 4 tensors; N = 1, 8, 32, 64. No network and no graph: the time the
 * coordinator adds to a step whatever the workers do.
 */
import { reduceGradient } from '../../coordinator/aggregate/index.js';
import { createOptimizer } from '../../coordinator/optim/index.js';
import { Arena, type FlatVector } from '../../shared/kernels/index.js';
import { TreeSum, nodesAtLevel } from '../../shared/reduction/index.js';
import { Rng } from '../../shared/random.js';
import { summarize, type Timing } from '../timing.js';
import type { BenchContext, BenchRow, BenchSection, SectionResult } from '../section.js';

const SIZES = [1_000_000, 10_000_000];
const GRADIENTS = [1, 8, 32, 64];
const TENSORS = 4;
/** Distinct random gradients the N inputs are copied from (N copies of 10M values would not fit twice). */
const DISTINCT = 4;

/** Times `work` once per run after `setup` (untimed) prepares its inputs. */
function timeWithSetup<T>(runs: number, setup: () => T, work: (input: T) => void, cleanup: (input: T) => void): Timing {
  const perRun: number[] = [];
  for (let r = 0; r <= runs; r++) {
    const input = setup();
    const start = performance.now();
    work(input);
    const seconds = (performance.now() - start) / 1000;
    cleanup(input);
    if (r > 0) perRun.push(seconds); // the first run warms up
  }
  return summarize(perRun, 1);
}

function nsPer(t: Timing, count: number): { value: number; range: [number, number] } {
  return { value: (t.median * 1e9) / count, range: [(t.min * 1e9) / count, (t.max * 1e9) / count] };
}

export const aggregateUpdateSection: BenchSection = {
  id: 'aggregate',
  title: `Coordinator step arithmetic (WebAssembly SIMD kernels): ordered tree sum of N gradients; mean + norm + clip + AdamW; each beside a memory copy of the same bytes`,
  async run(ctx: BenchContext): Promise<SectionResult> {
    const rows: BenchRow[] = [];
    const runs = Math.min(ctx.settings.runs, 5);
    for (const total of SIZES) {
      const sizes = Array.from({ length: TENSORS }, () => total / TENSORS);
      const arena = Arena.growable();
      const rng = Rng.seeded(7);
      const sources = Array.from({ length: DISTINCT }, () => {
        const v = arena.vector(sizes);
        v.setParts(sizes.map((n) => rng.floats(n, -0.01, 0.01)));
        return v;
      });
      const label = `P = ${total / 1e6}M`;
      ctx.log(`  ${label}...`);

      for (const n of GRADIENTS) {
        const order = rng.permutation(n);
        const leaves = nodesAtLevel(n, 0);
        const copyTime = timeWithSetup(
          runs,
          () => Array.from({ length: n }, () => arena.vector(sizes)),
          (dst) => dst.forEach((d, j) => d.copyFrom(sources[j % DISTINCT]!)),
          (dst) => dst.forEach((d) => arena.release(d)),
        );
        const sumTime = timeWithSetup(
          runs,
          () =>
            Array.from({ length: n }, (_, j) => {
              const v = arena.vector(sizes);
              v.copyFrom(sources[j % DISTINCT]!);
              return v;
            }),
          (inputs) => {
            const sum = new TreeSum(n, arena, sizes);
            for (const j of order) sum.add(leaves[j]!, inputs[j]!);
            arena.release(sum.take());
          },
          () => {},
        );
        const sum = nsPer(sumTime, total * n);
        const copy = nsPer(copyTime, total * n);
        const note = n === 1 ? 'one gradient is its own sum: nothing to add' : `${n - 1} additions over the tree, arrival order shuffled; median of ${runs} runs`;
        rows.push({ case: `${label}, N = ${n}: ordered tree sum`, value: sum.value, unit: 'ns/param/gradient', range: sum.range, note });
        rows.push({ case: `${label}, N = ${n}: memory copy of the same N·P·4 bytes`, value: copy.value, unit: 'ns/param/gradient', range: copy.range, note: `ratio sum/copy ${(sum.value / copy.value).toFixed(2)}` });
      }

      const specs = sizes.map((size, i) => ({ name: `p${i}`, size, decay: i % 2 === 0 }));
      const adamw = createOptimizer({ kind: 'adamw', weightDecay: 0.01 }, specs, arena);
      const params = arena.vector(sizes);
      params.copyFrom(sources[0]!);
      const grad = arena.vector(sizes);
      let gradScale = 1;
      const updateTime = timeWithSetup(
        runs,
        () => grad.copyFrom(sources[1]!),
        () => {
          const r = reduceGradient(grad, TENSORS, 128, { maxNorm: 1e-4 });
          if (!r.ok) throw new Error('benchmark gradients turned out non-finite');
          gradScale = r.gradScale;
          adamw.update(params, grad, 1e-3, r.gradScale);
        },
        () => {},
      );
      if (!(gradScale < 1 / 128)) throw new Error('the benchmark meant to clip');
      const scratch: FlatVector[] = Array.from({ length: 4 }, () => arena.vector(sizes));
      const copy4 = timeWithSetup(
        runs,
        () => undefined,
        () => scratch.forEach((d, i) => d.copyFrom(sources[i % DISTINCT]!)),
        () => {},
      );
      const up = nsPer(updateTime, total);
      const c4 = nsPer(copy4, total);
      rows.push({ case: `${label}: mean + norm + clip + AdamW (weight decay)`, value: up.value, unit: 'ns/param', range: up.range, note: `median of ${runs} runs` });
      rows.push({ case: `${label}: memory copy of the 4 vectors AdamW reads (P·16 bytes)`, value: c4.value, unit: 'ns/param', range: c4.range, note: `ratio ${(up.value / c4.value).toFixed(2)}` });
    }
    return { rows, notes: [] };
  },
};
