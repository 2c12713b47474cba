/**
 * PGD on a trained digits MLP: every adversarial input lies in the ε-ball around its clean input
 * and in the range, PGD-10 is at least as strong as FGSM (higher loss, no more hits) and both are
 * below the clean figures; the runner's batch figures equal the same attack driven by hand; and
 * the attack evaluation does not depend on the batch size (the random start follows the sample).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { trainLocally } from '../../coordinator/local/train.js';
import { bundledDigitsSplit } from '../../coordinator/local/data.js';
import { buildForwardModel, type ModelSpecInput } from '../../shared/model/index.js';
import { exportInference } from '../../shared/autodiff/export.js';
import { classifierHead, evaluateAttacks, openModelAttack } from '../../shared/adversarial/evaluate.js';
import { attackSpec } from '../../shared/adversarial/attack-spec.js';
import { perturb } from '../../shared/adversarial/perturb.js';
import { gatherBatch } from '../../shared/data/batch.js';
import { cpuDevice } from '../../shared/engine/cpu.js';
import type { AttackRunner } from '../../shared/engine/attack-runner.js';
import type { SplitData } from '../../shared/data/split.js';

const SPEC: ModelSpecInput = {
  input: { name: 'x', shape: [784] },
  layers: [{ type: 'dense', name: 'fc1', units: 64 }, { type: 'relu' }, { type: 'dropout', p: 0.2 }, { type: 'dense', name: 'fc2', units: 10 }],
  loss: 'cross-entropy',
  seed: 3,
};
const EPS = 0.1;

let runner: AttackRunner;
let data: SplitData;

beforeAll(async () => {
  const split = { validation: 200, test: 300 };
  const trained = await trainLocally({ model: SPEC, split, seed: 9, epochs: 2, batch: 64, lr: 2e-3 });
  expect(trained.test!.accuracy).toBeGreaterThan(0.85);
  data = bundledDigitsSplit(split, 9);
  const forward = buildForwardModel(SPEC).model;
  const model = exportInference(forward, new Map(trained.paramInfo.map((p, i) => [p.name, trained.params[i]!])));
  const { forward: f, head } = classifierHead(model);
  ({ runner } = await openModelAttack(f, head, cpuDevice()));
}, 120_000);

afterAll(async () => {
  await runner?.release();
});

describe('PGD on a trained model', () => {
  it('stays in the ε-ball and the range, and beats FGSM', async () => {
    const indices = data.test.indices.subarray(0, 200);
    const batch = gatherBatch(data.test.dataset, indices);
    const gradient = async (x: Float32Array, g: Float32Array) => void (await runner.gradient(x, batch, g));
    const fgsm = attackSpec({ method: 'fgsm', epsilon: EPS, range: [0, 1] });
    const pgd = attackSpec({ method: 'pgd', epsilon: EPS, steps: 10, range: [0, 1] });
    expect(pgd.alpha).toBeCloseTo(0.025, 12);
    expect(pgd.randomStart).toBe(true);
    const scratch = new Float32Array(batch.x.length);
    const score = async (x: Float32Array) => runner.gradient(x, batch, scratch);

    const xf = new Float32Array(batch.x.length);
    await perturb(fgsm, batch.x, 784, indices, 1, gradient, xf);
    const xp = new Float32Array(batch.x.length);
    await perturb(pgd, batch.x, 784, indices, 1, gradient, xp);
    let moved = 0;
    const eps32 = Math.fround(EPS); // float32 arithmetic, as torch's x ± eps on a float32 tensor
    const outside: string[] = [];
    for (let i = 0; i < xp.length; i++) {
      const c = batch.x[i]!;
      if (!(xp[i]! >= Math.fround(c - eps32) && xp[i]! <= Math.fround(c + eps32) && xp[i]! >= 0 && xp[i]! <= 1)) outside.push(`element ${i}: ${xp[i]} (clean ${c})`);
      if (xp[i] !== c) moved++;
    }
    expect(outside).toEqual([]);
    expect(moved).toBeGreaterThan(0.5 * xp.length);

    const clean = await score(batch.x);
    const f = await score(xf);
    const p = await score(xp);
    expect(f.lossSum).toBeGreaterThan(clean.lossSum);
    expect(p.lossSum).toBeGreaterThan(f.lossSum);
    expect(p.correct).toBeLessThanOrEqual(f.correct);
    expect(f.correct).toBeLessThan(clean.correct);
    // On a plainly trained MLP, ε = 0.1 PGD leaves few digits right.
    expect(p.correct / batch.count).toBeLessThan(0.5 * (clean.correct / batch.count));

    // Without a random start PGD is still inside the ball and stronger than FGSM.
    const xs = new Float32Array(batch.x.length);
    await perturb({ ...pgd, randomStart: false }, batch.x, 784, indices, 1, gradient, xs);
    expect((await score(xs)).lossSum).toBeGreaterThan(f.lossSum);

    // The runner's figures are these, by construction: same seed, same indices.
    const r = await runner.attack(batch, pgd, 1, indices);
    expect(r).toEqual({ count: 200, correct: clean.correct, lossSum: clean.lossSum, adversarialCorrect: p.correct, adversarialLossSum: p.lossSum });
    const rf = await runner.attack(batch, fgsm, 1, indices);
    expect(rf.adversarialLossSum).toBe(f.lossSum);
    // Both attacks over one shared clean run give each attack's own figures, bit for bit.
    const both = await runner.attackAll(batch, [fgsm, pgd], 1, indices);
    expect(both).toEqual({ count: 200, correct: clean.correct, lossSum: clean.lossSum, attacks: [{ correct: rf.adversarialCorrect, lossSum: rf.adversarialLossSum }, { correct: p.correct, lossSum: p.lossSum }] });
  });

  it('gives the same evaluation whatever the batch size', async () => {
    const indices = data.test.indices.subarray(0, 120);
    const specs = [attackSpec({ method: 'fgsm', epsilon: EPS, range: [0, 1] }), attackSpec({ method: 'pgd', epsilon: EPS, steps: 5, range: [0, 1] })];
    const whole = await evaluateAttacks(runner, data.test.dataset, indices, specs, { batch: 120, seed: 4 });
    const pieces = await evaluateAttacks(runner, data.test.dataset, indices, specs, { batch: 50, seed: 4 });
    expect(pieces.count).toBe(120);
    expect(pieces.clean.accuracy).toBe(whole.clean.accuracy);
    expect(pieces.attacks.map((a) => a.accuracy)).toEqual(whole.attacks.map((a) => a.accuracy));
    for (let s = 0; s < 2; s++) expect(pieces.attacks[s]!.loss).toBeCloseTo(whole.attacks[s]!.loss, 4);
    expect(whole.attacks[1]!.accuracy).toBeLessThanOrEqual(whole.attacks[0]!.accuracy);
    expect(whole.attacks[0]!.accuracy).toBeLessThan(whole.clean.accuracy);
  });
});
