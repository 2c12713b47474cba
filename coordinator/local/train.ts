/**
 * trainLocally: the whole training job in one process over the compiled graph — the README's
 * quick start until the cluster runs it, and the single-process baseline of the benchmarks.
 *
 *   spec ─► forward model ─► training graph (reduction 'sum') + eval graph
 *        ─► per epoch: seeded permutation (coordinator/plan) ─► steps (step.ts) ─► validation
 *        ─► test
 *
 * Every random choice comes from `seed` through integer generators (split, permutations,
 * dropout masks) and the parameters' initial values from the spec's seed, so two runs with the
 * same options and device end with bit-identical parameters.
 */
import { buildForwardModel } from '../../shared/model/build.js';
import { defaultModelSpec } from '../../shared/model/defaults.js';
import { compileTraining } from '../../shared/autodiff/compile.js';
import { compileEval } from '../../shared/autodiff/eval.js';
import type { BufferInfo, ParamInfo } from '../../shared/autodiff/compile-types.js';
import { TrainingRunner, EvalRunner } from '../../shared/engine/runner.js';
import { createOptimizer, lrSchedule } from '../optim/index.js';
import { Arena } from '../../shared/kernels/index.js';
import { rootLevel, vectorsForLevel } from '../../shared/reduction/index.js';
import { planEpoch } from '../plan/index.js';
import { bundledDigitsSplit, fitToModelInput } from './data.js';
import { evaluateSubset } from './evaluate.js';
import { trainStep, type StepState } from './step.js';
import { resolveLocalOptions, type LocalTrainOptions } from './options.js';
import type { EpochRecord, EvalMetrics, LocalTrainEvent } from './events.js';
import { DivergedError } from './errors.js';

export interface LocalTrainResult {
  /** One record per epoch, with its validation figures. */
  history: EpochRecord[];
  /** Mean loss per sample of every step, in order (skipped steps included). */
  stepLosses: number[];
  /** Validation after the last epoch (null without validation data). */
  validation: EvalMetrics | null;
  /** Test figures with the final parameters (null without test data). */
  test: EvalMetrics | null;
  /** Final parameter values, in the order of `paramInfo`. */
  params: Float32Array[];
  paramInfo: ParamInfo[];
  /** Final buffers (batch-norm running statistics), in the order of `bufferInfo`. */
  buffers: Float32Array[];
  bufferInfo: BufferInfo[];
  steps: number;
  skippedSteps: number;
  /** The device the graphs really ran on (CPU after a CUDA fallback). */
  device: string;
  wallSeconds: number;
}

/** Trains a model in this process; see LocalTrainOptions for every option and its default. */
export async function trainLocally(options: LocalTrainOptions = {}): Promise<LocalTrainResult> {
  const started = performance.now();
  const o = resolveLocalOptions(options);
  const emit = (e: LocalTrainEvent) => o.onEvent(e);

  const forward = buildForwardModel(o.model ?? defaultModelSpec(o.seed), o.initSeed === undefined ? {} : { seed: o.initSeed });
  const correct = forward.heads.some((h) => h.loss === 'cross-entropy');
  const training = compileTraining(forward.model, { heads: forward.heads, reduction: 'sum', correct });
  const evaluation = compileEval(forward.model, { heads: forward.heads, correct });
  const data = fitToModelInput(o.data ?? bundledDigitsSplit(o.split, o.seed), forward.input.shape);

  const warn = (message: string) => emit({ type: 'warning', message });
  const runner = await TrainingRunner.open(training, o.device, warn);
  const shapes = new Map([...training.params, ...training.buffers].map((t) => [t.name, t.shape] as const));
  const evaluator = await EvalRunner.open(evaluation, runner.device, shapes);
  try {
    const paramSizes = training.params.map((p) => p.init.length);
    const leafSizes = [...paramSizes, ...training.buffers.map((b) => b.init.length)];
    const microbatches = Math.ceil(o.batch / o.microBatch);
    // Params, two optimizer slots at most, and the leaves a step holds at once (reduce-node.ts).
    const arena = Arena.fixedFor([
      { sizes: paramSizes, count: 3 },
      { sizes: leafSizes, count: vectorsForLevel(rootLevel(microbatches)) },
    ]);
    const params = arena.vector(paramSizes);
    params.setParts(training.params.map((p) => p.init));
    const state: StepState = {
      arena,
      params,
      buffers: training.buffers.map((b) => Float32Array.from(b.init)),
      paramNames: training.params.map((p) => p.name),
      leafSizes,
    };
    // The runner reads params and buffers from these arrays, which every step updates in place.
    runner.setParams(params.parts);
    runner.setBuffers(state.buffers);
    // Weight decay and L1, when configured, apply to weights only (not biases or norm params).
    const optimizer = createOptimizer(o.optimizer, training.params.map((p) => ({ name: p.name, size: p.init.length, decay: p.kind === 'weight' })), arena);
    const lrAt = lrSchedule(o.schedule);
    const trainSize = data.train.indices.length;
    const stepsPerEpoch = Math.ceil(trainSize / o.batch);
    emit({
      type: 'start',
      model: forward.spec.name ?? 'model',
      params: training.params.length,
      values: training.params.reduce((n, p) => n + p.init.length, 0),
      train: trainSize,
      validation: data.validation.indices.length,
      test: data.test.indices.length,
      stepsPerEpoch,
      epochs: o.epochs,
      batch: o.batch,
      device: runner.device.describe(),
    });

    const history: EpochRecord[] = [];
    const stepLosses: number[] = [];
    let validation: EvalMetrics | null = null;
    let globalStep = 0;
    let skipped = 0;
    let consecutiveSkips = 0;
    const ctx = { runner, batchMemory: {}, optimizer, train: data.train, clip: o.clip, seed: o.seed };
    for (let epoch = 0; epoch < o.epochs; epoch++) {
      const plan = planEpoch(trainSize, o.batch, o.microBatch, o.seed, epoch);
      const epochStart = performance.now();
      let lossSum = 0;
      let correctSum = 0;
      let samples = 0;
      for (const stepPlan of plan.steps) {
        const lr = lrAt(globalStep);
        const r = await trainStep(ctx, state, plan, stepPlan, globalStep, lr);
        globalStep++;
        lossSum += r.lossSum;
        correctSum += r.correct ?? 0;
        samples += r.samples;
        stepLosses.push(r.lossSum / r.samples);
        const isSkip = r.gradNorm === null;
        emit({ type: 'step', epoch: epoch + 1, step: globalStep, stepInEpoch: stepPlan.index + 1, stepsInEpoch: plan.steps.length, loss: r.lossSum / r.samples, lr, gradNorm: r.gradNorm, skipped: isSkip });
        if (!isSkip) {
          consecutiveSkips = 0;
          continue;
        }
        skipped++;
        consecutiveSkips++;
        if (consecutiveSkips >= o.maxConsecutiveSkips) {
          const bad = r.nonFinite[0];
          const where = bad ? `micro-batch ${bad.microbatch ?? '?'}, ${state.paramNames[bad.param] ?? `param #${bad.param}`}[${bad.element}] = ${bad.value}` : 'unknown';
          throw new DivergedError(consecutiveSkips, globalStep, where);
        }
      }
      const seconds = (performance.now() - epochStart) / 1000;
      evaluator.setWeights(state.params.parts, state.buffers);
      validation = await evaluateSubset(evaluator, data.validation, o.evalBatch);
      const record: EpochRecord = {
        epoch: epoch + 1,
        steps: plan.steps.length,
        samples,
        trainLoss: lossSum / samples,
        trainAccuracy: correct ? correctSum / samples : null,
        validation,
        seconds,
        samplesPerSecond: samples / Math.max(seconds, 1e-9),
      };
      history.push(record);
      emit({ type: 'epoch', record });
    }

    evaluator.setWeights(state.params.parts, state.buffers);
    const test = await evaluateSubset(evaluator, data.test, o.evalBatch);
    if (test) emit({ type: 'test', metrics: test });
    return {
      history,
      stepLosses,
      validation,
      test,
      params: state.params.parts.map((p) => p.slice()),
      paramInfo: training.params,
      buffers: state.buffers,
      bufferInfo: training.buffers,
      steps: globalStep,
      skippedSteps: skipped,
      device: runner.device.describe(),
      wallSeconds: (performance.now() - started) / 1000,
    };
  } finally {
    await runner.release();
    await evaluator.release();
  }
}
