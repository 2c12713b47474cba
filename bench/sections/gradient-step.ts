/**
 * Gradient-step throughput of the compiled training graph: one forward+backward pass of a batch
 * in onnxruntime-node on the CPU, exactly as a worker runs a micro-batch (TrainingRunner.step:
 * params fed as inputs, reduction 'sum', loss and every grad:<param> returned to JS).
 */
import { buildForwardModel } from '../../shared/model/build.js';
import { compileTraining } from '../../shared/autodiff/compile.js';
import { TrainingRunner } from '../../shared/engine/runner.js';
import { cpuDevice } from '../../shared/engine/cpu.js';
import { loadDigits } from '../../shared/data/digits.js';
import { withFeatureShape } from '../../shared/data/reshape.js';
import { gatherBatch } from '../../shared/data/batch.js';
import { BENCH_MODELS } from '../models.js';
import { throughput, timeIterations } from '../timing.js';
import type { BenchContext, BenchRow, BenchSection, SectionResult } from '../section.js';

export const gradientStepSection: BenchSection = {
  id: 'step',
  title: 'Gradient step (forward+backward of the compiled training graph, onnxruntime-node CPU)',
  async run(ctx: BenchContext): Promise<SectionResult> {
    const { batch, threads } = ctx.settings;
    const rows: BenchRow[] = [];
    for (const m of BENCH_MODELS) {
      const forward = buildForwardModel(m.spec);
      const graph = compileTraining(forward.model, { heads: forward.heads, reduction: 'sum' });
      const perSample = forward.input.shape.slice(1) as number[];
      const digits = withFeatureShape(loadDigits(), perSample);
      const samples = gatherBatch(digits, Uint32Array.from({ length: batch }, (_, i) => i % digits.size));
      const values = graph.params.reduce((n, p) => n + p.init.length, 0);
      for (const t of threads) {
        const runner = await TrainingRunner.open(graph, cpuDevice(t));
        try {
          ctx.log(`  ${m.label}, batch ${batch}, ${t} thread(s)...`);
          const timing = await timeIterations(() => runner.step(samples, 0), ctx.settings);
          const tp = throughput(timing, batch);
          rows.push({ case: `${m.label} (${values.toLocaleString('en-US')} params), batch ${batch}`, threads: t, value: tp.value, unit: 'samples/s', range: tp.range, note: `${(timing.median * 1000).toFixed(2)} ms/step` });
        } finally {
          await runner.release();
        }
      }
    }
    return { rows, notes: [] };
  },
};
