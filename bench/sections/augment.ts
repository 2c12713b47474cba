/**
 * Data augmentation (shared/augment) against the training step it precedes: Augmenter.apply on
 * a batch of 128 bundled digits (28×28) with a realistic config, next to the gradient step of
 * the benchmark CNN at the same batch, timed in the same section so both see the same machine
 * load. The target: augmentation at most 10 % of the step. Each transform alone at p = 1
 * follows, to show where the time goes.
 *
 * The same against the CNN the result was measured with (examples/fashion-cnn-augment.yaml,
 * its model and its transforms), whose step is the one augmentation really precedes.
 *
 * Every timed iteration first restores the batch from a pristine copy (one 400 KB copy, part of
 * the figure) and augments it with a new seed, as a worker would augment a fresh batch.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { buildForwardModel } from '../../shared/model/build.js';
import type { ModelSpecInput } from '../../shared/model/spec.js';
import { compileTraining } from '../../shared/autodiff/compile.js';
import { TrainingRunner } from '../../shared/engine/runner.js';
import { cpuDevice } from '../../shared/engine/cpu.js';
import { loadDigits } from '../../shared/data/digits.js';
import { withFeatureShape } from '../../shared/data/reshape.js';
import { gatherBatch } from '../../shared/data/batch.js';
import { augmentSchema, type AugmentConfigInput } from '../../shared/augment/schema.js';
import { Augmenter, planAugmentation } from '../../shared/augment/augment.js';
import { BENCH_MODELS } from '../models.js';
import { timeIterations, type Timing } from '../timing.js';
import type { BenchContext, BenchRow, BenchSection, SectionResult } from '../section.js';

const CNN = BENCH_MODELS.find((m) => m.id === 'cnn')!;
const EXAMPLE = fileURLToPath(new URL('../../examples/fashion-cnn-augment.yaml', import.meta.url));
const EXAMPLE_LABEL = 'fashion-cnn-augment.yaml';

/** The realistic config of the issue. */
const REALISTIC: AugmentConfigInput = {
  crop: { padding: 2 },
  flip_horizontal: { p: 0.5 },
  rotate: { max_degrees: 10, p: 0.5 },
  erase: { p: 0.25 },
  noise: { std: 0.05, p: 0.5 },
  clamp: [0, 1],
};
const REALISTIC_LABEL = 'crop 2 + flip p 0.5 + rotate 10° p 0.5 + erase p 0.25 + noise 0.05 p 0.5 + clamp';

/** Each transform alone, always applied. */
const ALONE: [string, AugmentConfigInput][] = [
  ['crop 2', { crop: { padding: 2, p: 1 } }],
  ['shift 2', { shift: { max_pixels: 2, p: 1 } }],
  ['rotate 10°', { rotate: { max_degrees: 10, p: 1 } }],
  ['flip', { flip_horizontal: { p: 1 } }],
  ['erase', { erase: { p: 1 } }],
  ['noise 0.05', { noise: { std: 0.05, p: 1 } }],
];

function row(label: string, t: Timing, note?: string): BenchRow {
  return { case: label, value: t.median * 1000, unit: 'ms', range: [t.min * 1000, t.max * 1000], ...(note ? { note } : {}) };
}

export const augmentSection: BenchSection = {
  id: 'augment',
  title: 'Data augmentation (Augmenter.apply, one JS thread) against the CNN gradient step at the same batch',
  async run(ctx: BenchContext): Promise<SectionResult> {
    const { batch, threads } = ctx.settings;
    const rows: BenchRow[] = [];
    const digits = loadDigits();
    const indices = Uint32Array.from({ length: batch }, (_, i) => i % digits.size);
    const pristine = gatherBatch(digits, indices).x;
    const x = new Float32Array(pristine.length);

    const timeAugment = async (config: AugmentConfigInput) => {
      const aug = new Augmenter(planAugmentation(augmentSchema.parse(config), digits.featureShape));
      let seed = 0;
      return timeIterations(() => {
        x.set(pristine);
        aug.apply(x, indices, seed++);
      }, ctx.settings);
    };

    ctx.log(`  augment ${REALISTIC_LABEL}, batch ${batch}...`);
    const augment = await timeAugment(REALISTIC);
    rows.push(row(`augment: ${REALISTIC_LABEL}, batch ${batch} of 28×28`, augment, `${Math.round(batch / augment.median).toLocaleString('en-US')} samples/s`));

    const forward = buildForwardModel(CNN.spec);
    const graph = compileTraining(forward.model, { heads: forward.heads, reduction: 'sum' });
    const samples = gatherBatch(withFeatureShape(digits, forward.input.shape.slice(1) as number[]), indices);
    for (const t of threads) {
      const runner = await TrainingRunner.open(graph, cpuDevice(t));
      try {
        ctx.log(`  ${CNN.label} step, batch ${batch}, ${t} thread(s)...`);
        const step = await timeIterations(() => runner.step(samples, 0), ctx.settings);
        const ratio = augment.median / step.median;
        rows.push({ ...row(`${CNN.label} gradient step, batch ${batch}`, step, `augment/step = ${(ratio * 100).toFixed(1)} % (target ≤ 10 %)`), threads: t });
      } finally {
        await runner.release();
      }
    }

    // The issue's own CNN and transforms: examples/fashion-cnn-augment.yaml (0.92 on Fashion-MNIST).
    const example = parseYaml(readFileSync(EXAMPLE, 'utf8')) as { model: { spec: ModelSpecInput }; augment: AugmentConfigInput };
    ctx.log(`  augment as ${EXAMPLE_LABEL}, batch ${batch}...`);
    const exampleAugment = await timeAugment(example.augment);
    rows.push(row(`augment: ${EXAMPLE_LABEL}'s (crop 2 + flip p 0.5), batch ${batch} of 28×28`, exampleAugment, `${Math.round(batch / exampleAugment.median).toLocaleString('en-US')} samples/s`));
    const exampleForward = buildForwardModel(example.model.spec);
    const exampleGraph = compileTraining(exampleForward.model, { heads: exampleForward.heads, reduction: 'sum', dropout: 'mask-input' });
    const exampleRunner = await TrainingRunner.open(exampleGraph, cpuDevice(1));
    try {
      ctx.log(`  ${EXAMPLE_LABEL}'s CNN step, batch ${batch}, 1 thread...`);
      const step = await timeIterations(() => exampleRunner.step(samples, 0), ctx.settings);
      const note = `augment/step: ${((exampleAugment.median / step.median) * 100).toFixed(1)} % with its transforms, ${((augment.median / step.median) * 100).toFixed(1)} % with all six`;
      rows.push({ ...row(`${EXAMPLE_LABEL}'s CNN (conv32-bn-pool-conv64-bn-pool-dropout-dense128-dense10) gradient step, batch ${batch}`, step, note), threads: 1 });
    } finally {
      await exampleRunner.release();
    }

    for (const [label, config] of ALONE) {
      ctx.log(`  augment ${label} alone...`);
      rows.push(row(`augment: ${label} alone (p 1), batch ${batch}`, await timeAugment(config)));
    }
    return { rows, notes: [] };
  },
};
