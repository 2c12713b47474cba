/**
 * compileAttack on model-spec models with conv2d, batch_norm and dropout: the graph is the
 * inference model (its summed loss and hits equal compileEval's on the same weights, batch norm on
 * running statistics far from the batch's, dropout off), its inputs are the eval graph's (same
 * names, same order, so one weight map feeds both), its outputs are loss, correct and grad:x and
 * nothing else, and grad:x equals central differences of its own loss. Models it cannot attack
 * are refused naming why.
 */
import { describe, it, expect } from 'vitest';
import { buildForwardModel, defaultModelSpec, type ModelSpecInput } from '../../shared/model/index.js';
import type { ModelProto } from '../../shared/proto/gen/onnx.js';
import { compileTraining } from '../../shared/autodiff/compile.js';
import { compileAttack } from '../../shared/autodiff/compile-attack.js';
import { compileEval } from '../../shared/autodiff/eval.js';
import { EvalRunner } from '../../shared/engine/runner.js';
import { AttackRunner } from '../../shared/engine/attack-runner.js';
import { initializerValues } from '../../shared/adversarial/evaluate.js';
import { cpuDevice } from '../../shared/engine/cpu.js';
import { Rng } from '../../shared/random.js';

const CNN: ModelSpecInput = {
  input: { name: 'x', shape: [1, 6, 6] },
  layers: [
    { type: 'conv2d', name: 'conv', filters: 3, kernel: 3, padding: 'same', activation: 'tanh' },
    { type: 'batch_norm', name: 'bn' },
    { type: 'avgpool2d', kernel: 2 }, // smooth everywhere, so central differences are a fair reference (maxpool: the torch test)
    { type: 'flatten' },
    { type: 'dropout', p: 0.5 },
    { type: 'dense', name: 'fc1', units: 8 },
    { type: 'batch_norm', name: 'bn1d' },
    { type: 'gelu' },
    { type: 'dropout', p: 0.3 },
    { type: 'dense', name: 'out', units: 4 },
  ],
  loss: 'cross-entropy',
  seed: 5,
};

function uniform(rng: Rng, n: number, lo: number, hi: number): Float32Array {
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.uniform());
}

describe('compileAttack', () => {
  it('is the eval model (BN running statistics, no dropout) with loss sum, correct and grad:x only', async () => {
    const built = buildForwardModel(CNN);
    const attack = compileAttack(built.model, { heads: built.heads });
    const evaluation = compileEval(built.model, { heads: built.heads, correct: true });
    expect(attack.params).toEqual(evaluation.params);
    expect(attack.buffers).toEqual(evaluation.buffers);
    expect(attack.buffers).toEqual(['bn.running_mean', 'bn.running_var', 'bn1d.running_mean', 'bn1d.running_var']);
    expect(attack.model.graph!.output.map((o) => o.name)).toEqual(['loss', 'correct', 'grad:x']);
    expect(attack.outputs).toEqual({ loss: 'loss', correct: 'correct', inputGrad: 'grad:x' });
    const ops = attack.model.graph!.node.map((n) => n.opType);
    expect(ops).not.toContain('Dropout');
    expect(ops.filter((o) => o === 'BatchNormalization')).toHaveLength(2);
    // No grad:<param> tensor anywhere (see the next test for what is computed).
    expect(attack.model.graph!.node.some((n) => n.output.some((o) => o.startsWith('grad:') && o !== 'grad:x'))).toBe(false);

    // Running statistics far from the batch's, so batch statistics would give another loss.
    const rng = Rng.seeded(11);
    const params = initializerValues(built.model, attack.params);
    const buffers = initializerValues(built.model, attack.buffers);
    buffers.values = buffers.values.map((v, i) => (i % 2 === 0 ? uniform(rng, v.length, -0.5, 0.5) : uniform(rng, v.length, 0.2, 3)));
    const shapes = new Map([...params.shapes, ...buffers.shapes]);
    const count = 5;
    const x = uniform(rng, count * 36, 0, 1);
    const batch = { x, y: BigInt64Array.from([0, 1, 2, 3, 1], BigInt), count };

    const evaluator = await EvalRunner.open(evaluation, cpuDevice(), shapes);
    const runner = await AttackRunner.open(attack, cpuDevice(), shapes);
    try {
      evaluator.setWeights(params.values, buffers.values);
      runner.setWeights(params.values, buffers.values);
      const e = await evaluator.evaluate(batch);
      const grad = new Float32Array(x.length);
      const a = await runner.gradient(x, batch, grad);
      expect(a.lossSum).toBeCloseTo(e.lossSum, 5);
      expect(a.correct).toBe(e.correct);

      // grad:x against central differences of the graph's own summed loss (float32: h = 1e-2).
      const h = 1e-2;
      const scale = Math.max(...grad.map(Math.abs));
      expect(scale).toBeGreaterThan(1e-3);
      const probe = new Float32Array(x);
      const scratch = new Float32Array(x.length);
      let checked = 0;
      for (let i = 0; i < x.length; i += 7) {
        probe[i] = x[i]! + h;
        const up = (await runner.gradient(probe, batch, scratch)).lossSum;
        probe[i] = x[i]! - h;
        const down = (await runner.gradient(probe, batch, scratch)).lossSum;
        probe[i] = x[i]!;
        const numeric = (up - down) / (2 * h);
        expect(Math.abs(numeric - grad[i]!), `element ${i}: analytic ${grad[i]}, numeric ${numeric}`).toBeLessThan(2e-2 * scale + 2e-2 * Math.abs(numeric));
        checked++;
      }
      expect(checked).toBeGreaterThan(20);
    } finally {
      await evaluator.release();
      await runner.release();
    }
  });

  it('differentiates with respect to the input only: no parameter gradient is computed', () => {
    const built = buildForwardModel(defaultModelSpec(1)); // 784-256-128-10: three Gemms
    const ops = (m: ModelProto) => m.graph!.node.filter((n) => n.opType === 'Gemm').map((n) => n.output[0]);
    // Forward 3 + one dX Gemm per layer; the training graph adds one dW Gemm per layer.
    expect(ops(compileAttack(built.model, { heads: built.heads }).model)).toHaveLength(6);
    expect(ops(compileTraining(built.model, { heads: built.heads, inputGradients: ['x'] }).model)).toHaveLength(9);
  });

  it('keeps frozen initializers out of the inputs, as compileEval does', () => {
    const built = buildForwardModel(CNN);
    const freeze = /^conv\./;
    const attack = compileAttack(built.model, { heads: built.heads, freeze });
    expect(attack.params).toEqual(compileEval(built.model, { heads: built.heads, freeze }).params);
    expect(attack.params.some((p) => p.startsWith('conv.'))).toBe(false);
  });

  it('refuses integer inputs and names the input', () => {
    const built = buildForwardModel({
      input: { name: 'tokens', shape: [5], type: 'int64' },
      layers: [{ type: 'embedding', vocab: 10, dim: 4 }, { type: 'flatten' }, { type: 'dense', units: 3 }],
      seed: 1,
      loss: 'cross-entropy',
    });
    expect(() => compileAttack(built.model, { heads: built.heads })).toThrow(/perturbs a float input; the model's input 'tokens' is INT64/);
  });

  it('has no correct output for a regression head', () => {
    const built = buildForwardModel({ input: { shape: [4] }, layers: [{ type: 'dense', units: 2 }], loss: 'mse', seed: 1 });
    const attack = compileAttack(built.model, { heads: built.heads });
    expect(attack.outputs.correct).toBeUndefined();
    expect(attack.model.graph!.output.map((o) => o.name)).toEqual(['loss', 'grad:x']);
  });
});
