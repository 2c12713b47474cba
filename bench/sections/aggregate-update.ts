/**
 * The coordinator's per-step arithmetic at scale: the ordered sum of 4 micro-batch gradients
 * (float64 accumulators), the mean over the batch, the non-finite check, clipping by global norm
 * and the Adam update, for models of 1M and 10M parameters (4 tensors each). No network and no
 * graph: this is the time the coordinator adds to every step, whatever the workers do.
 */
import { OrderedSum, reduceStep } from '../../coordinator/aggregate/index.js';
import { createOptimizer } from '../../coordinator/optim/index.js';
import { Rng } from '../../shared/random.js';
import { timeIterations, type Timing } from '../timing.js';
import type { BenchContext, BenchRow, BenchSection, SectionResult } from '../section.js';

const SIZES = [1_000_000, 10_000_000];
const TENSORS = 4;
const MICROBATCHES = 4;
const BATCH = 128;

export const aggregateUpdateSection: BenchSection = {
  id: 'aggregate',
  title: `Coordinator step arithmetic (ordered sum of ${MICROBATCHES} micro-batches, mean, clip by global norm, Adam update)`,
  async run(ctx: BenchContext): Promise<SectionResult> {
    const rows: BenchRow[] = [];
    for (const total of SIZES) {
      const sizes = Array.from({ length: TENSORS }, () => total / TENSORS);
      const rng = Rng.seeded(7);
      const grads = Array.from({ length: MICROBATCHES }, () => sizes.map((n) => rng.floats(n, -0.01, 0.01)));
      const params = sizes.map((n) => rng.floats(n, -0.1, 0.1));
      const adam = createOptimizer({ kind: 'adam' }, sizes.map((size, i) => ({ name: `p${i}`, size, decay: true })));
      const label = `${(total / 1e6).toFixed(0)}M params`;
      ctx.log(`  ${label}...`);
      const opts = { ...ctx.settings, warmup: 1, runs: Math.min(ctx.settings.runs, 5), minRunSeconds: 0 };

      let reduced: ReturnType<typeof reduceStep> | undefined;
      const sumTime = await timeIterations(() => {
        const sum = new OrderedSum(sizes, MICROBATCHES);
        // Out of order on purpose: held results are folded once their turn comes.
        for (const j of [1, 0, 3, 2]) sum.add(j, grads[j]!);
        reduced = reduceStep(sum, BATCH, { maxNorm: 1 });
      }, opts);
      if (!reduced?.ok) throw new Error('benchmark gradients turned out non-finite');
      const stepGrads = reduced.grads;
      const updateTime = await timeIterations(() => adam.update(params, stepGrads, 1e-3), opts);
      const note = `median of ${opts.runs} single iterations after 1 warm-up`;
      const row = (what: string, t: Timing): BenchRow => ({ case: `${label}: ${what}`, value: t.median * 1000, unit: 'ms', range: [t.min * 1000, t.max * 1000], note });
      rows.push(row('ordered sum + mean + clip', sumTime), row('Adam update', updateTime));
      rows.push({ case: `${label}: total per step`, value: (sumTime.median + updateTime.median) * 1000, unit: 'ms' });
    }
    return { rows, notes: [] };
  },
};
