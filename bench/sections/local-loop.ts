/**
 * End-to-end training throughput of the single-process loop (coordinator/local): whole epochs of
 * 8,000 bundled digits — batch gathering, dropout masks, graph runs, the reduction tree, the
 * norm, clipping and the optimizer — with evaluation excluded.
 *
 * The first case is issue 8's target 1, measured side by side in this section: the benchmark MLP
 * at batch 128 with AdamW (weight decay 0.01) and clipping at 1.0, against (a) the bare gradient
 * step of the same graph (what the `step` section times) and (b) PyTorch's full training step of
 * the same model, batch, optimizer and clipping (bench/torch_step.py, kind 'train'), both timed
 * here so that they see the same machine load.
 */
import { trainLocally } from '../../coordinator/local/index.js';
import { cpuDevice } from '../../shared/engine/cpu.js';
import { buildForwardModel } from '../../shared/model/build.js';
import { compileTraining } from '../../shared/autodiff/compile.js';
import { TrainingRunner } from '../../shared/engine/runner.js';
import { loadDigits } from '../../shared/data/digits.js';
import { gatherBatch } from '../../shared/data/batch.js';
import { BENCH_MODELS } from '../models.js';
import { summarize, throughput, timeIterations } from '../timing.js';
import { measureTorchSteps } from './torch-reference.js';
import type { BenchContext, BenchRow, BenchSection, SectionResult } from '../section.js';

const MLP = BENCH_MODELS.find((m) => m.id === 'mlp')!;
const BATCH = 128;

/** Samples/s of whole epochs of the local loop (the first epoch warms up and is not counted). */
async function loopThroughput(ctx: BenchContext, options: Parameters<typeof trainLocally>[0], epochs: number) {
  const result = await trainLocally({ ...options, epochs: epochs + 1 });
  const timed = result.history.slice(1);
  const samples = timed[0]!.samples;
  return { tp: throughput(summarize(timed.map((h) => h.seconds / h.samples), samples), 1), samples, epochs: timed.length };
}

/** The bare gradient step of the benchmark MLP's graph at batch 128 (the `step` section's measure). */
async function bareStep(ctx: BenchContext, threads: number) {
  const forward = buildForwardModel(MLP.spec);
  const graph = compileTraining(forward.model, { heads: forward.heads, reduction: 'sum' });
  const batch = gatherBatch(loadDigits(), Uint32Array.from({ length: BATCH }, (_, i) => i));
  const runner = await TrainingRunner.open(graph, cpuDevice(threads));
  try {
    return throughput(await timeIterations(() => runner.step(batch, 0), ctx.settings), BATCH);
  } finally {
    await runner.release();
  }
}

export const localLoopSection: BenchSection = {
  id: 'local',
  title: 'Single-process training loop (whole epochs of 8,000 digits, evaluation excluded) against the bare gradient step and PyTorch’s full step',
  async run(ctx: BenchContext): Promise<SectionResult> {
    const rows: BenchRow[] = [];
    const notes: string[] = [];
    const epochs = Math.max(1, Math.min(ctx.settings.runs, 5));
    const torch = await measureTorchSteps({ ...ctx.settings, batch: BATCH }, { models: ['mlp'], kinds: ['train'] });
    if ('skipped' in torch) notes.push(`torch full step ${torch.skipped}`);
    for (const t of ctx.settings.threads) {
      ctx.log(`  ${MLP.label}, batch ${BATCH}, AdamW + clip, ${t} thread(s): bare step, loop...`);
      const bare = await bareStep(ctx, t);
      const loop = await loopThroughput(ctx, { model: MLP.spec, batch: BATCH, microBatch: BATCH, device: cpuDevice(t), optimizer: { kind: 'adamw', weightDecay: 0.01 }, clip: { maxNorm: 1 } }, epochs);
      const torchStep = 'results' in torch ? torch.results.find((r) => r.threads === t) : undefined;
      const torchRate = torchStep ? BATCH / torchStep.timing.median : undefined;
      const vsTorch = torchRate ? `; ${(loop.tp.value / torchRate).toFixed(2)}× torch ${torchStep!.torch}'s full step (${Math.round(torchRate).toLocaleString('en-US')} samples/s, same run)` : '';
      rows.push({ case: `${MLP.label}: bare gradient step, batch ${BATCH}`, threads: t, value: bare.value, unit: 'samples/s', range: bare.range, note: 'TrainingRunner.step, as the `step` section' });
      rows.push({
        case: `${MLP.label}: training loop, batch ${BATCH}, AdamW wd 0.01 + clip 1.0`,
        threads: t,
        value: loop.tp.value,
        unit: 'samples/s',
        range: loop.tp.range,
        note: `${((100 * loop.tp.value) / bare.value).toFixed(0)} % of the bare step${vsTorch}; ${loop.epochs} epochs of ${loop.samples}`,
      });
      if (torchRate) rows.push({ case: `torch ${torchStep!.torch} ${MLP.label}: full step (AdamW wd 0.01 + clip 1.0), batch ${BATCH}`, threads: t, value: torchRate, unit: 'samples/s', range: throughput(torchStep!.timing, BATCH).range, note: 'bench/torch_step.py kind train' });
    }
    ctx.log('  default MLP (dropout), quick start batch 64, Adam...');
    const quick = await loopThroughput(ctx, { batch: 64, device: cpuDevice(1) }, epochs);
    rows.push({ case: 'default MLP (dropout 0.2), quick start: batch 64, Adam', threads: 1, value: quick.tp.value, unit: 'samples/s', range: quick.tp.range, note: `${quick.epochs} epochs of ${quick.samples}` });
    return { rows, notes };
  },
};
