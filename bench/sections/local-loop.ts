/**
 * End-to-end training throughput of the single-process loop (coordinator/local): one epoch of
 * the default MLP on 8,000 bundled digits — batch gathering, dropout masks, graph runs, ordered
 * sum, clipping and the Adam update — with evaluation excluded. Measured at the quick start's
 * batch and at the cluster's default job (global 128 in micro-batches of 32), so the cluster's
 * end-to-end figures have a same-graph, same-arithmetic baseline.
 */
import { trainLocally } from '../../coordinator/local/index.js';
import { cpuDevice } from '../../shared/engine/cpu.js';
import { summarize, throughput } from '../timing.js';
import type { BenchContext, BenchRow, BenchSection, SectionResult } from '../section.js';

const CONFIGS = [
  { batch: 64, microBatch: 64, label: 'quick start: batch 64' },
  { batch: 128, microBatch: 32, label: 'cluster default job: batch 128 in micro-batches of 32' },
] as const;

export const localLoopSection: BenchSection = {
  id: 'local',
  title: 'Single-process training loop (default MLP with dropout, Adam, one epoch of 8,000 digits, evaluation excluded)',
  async run(ctx: BenchContext): Promise<SectionResult> {
    const rows: BenchRow[] = [];
    // An epoch lasts about a second: a few runs give a median without a long bench.
    const runs = Math.max(1, Math.min(ctx.settings.runs, 3));
    for (const c of CONFIGS) {
      for (const t of ctx.settings.threads) {
        ctx.log(`  ${c.label}, ${t} thread(s)...`);
        const perSample: number[] = [];
        let samples = 0;
        for (let r = 0; r < runs; r++) {
          const result = await trainLocally({ epochs: 1, batch: c.batch, microBatch: c.microBatch, device: cpuDevice(t) });
          const epoch = result.history[0]!;
          samples = epoch.samples;
          perSample.push(epoch.seconds / epoch.samples);
        }
        const tp = throughput(summarize(perSample, samples), 1);
        rows.push({ case: `default MLP, ${c.label}`, threads: t, value: tp.value, unit: 'samples/s', range: tp.range, note: `${runs} epoch(s) of ${samples} samples` });
      }
    }
    return { rows, notes: [] };
  },
};
