/**
 * FGSM against PyTorch: models exported by torch.onnx.export in eval mode (an MLP with dropout, a
 * CNN with batch norm on non-trivial running statistics and dropout, at opsets 17 and 13), one
 * fixed batch each (test/fixtures/adversarial/make_fgsm_reference.py). The attack graph's input
 * gradient equals torch autograd's within float32 rounding, its loss sum equals torch's, and the
 * FGSM batch at ε = 0.1 in [0, 1] is torch's bit for bit wherever the gradient is not tiny.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodeModel } from '../../shared/onnx/model.js';
import { classifierHead, openModelAttack } from '../../shared/adversarial/evaluate.js';
import { perturb } from '../../shared/adversarial/perturb.js';
import { attackSpec } from '../../shared/adversarial/attack-spec.js';
import { cpuDevice } from '../../shared/engine/cpu.js';
import type { AttackRunner } from '../../shared/engine/attack-runner.js';

interface Case {
  name: string;
  opset: number;
  shape: number[];
  batch: number;
  onnx: string;
  x: number[];
  labels: number[];
  loss_sum: number;
  grad: number[];
  grad64: number[];
  x_adv: number[];
}
const fixture = JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/adversarial/fgsm-reference.json', import.meta.url)), 'utf8')) as { epsilon: number; range: [number, number]; cases: Case[] };

const runners: AttackRunner[] = [];
afterAll(async () => {
  for (const r of runners) await r.release();
});

describe('FGSM equals PyTorch on eval-mode exports', () => {
  it.each(fixture.cases.map((c) => [c.name, c] as const))('%s: input gradient, loss and x_adv', async (_name, c) => {
    const model = decodeModel(Buffer.from(c.onnx, 'base64'));
    const { forward, head } = classifierHead(model);
    expect(head.logits).toBe('logits');
    const { graph, runner } = await openModelAttack(forward, head, cpuDevice());
    runners.push(runner);
    expect(graph.inputs.map((i) => i.name)).toEqual(['x']);
    const x = Float32Array.from(c.x);
    const batch = { x, y: BigInt64Array.from(c.labels, BigInt), count: c.batch };

    // The input gradient of the summed loss: torch's within float32 rounding.
    const grad = new Float32Array(x.length);
    const { lossSum, correct } = await runner.gradient(x, batch, grad);
    expect(lossSum).toBeCloseTo(c.loss_sum, 4);
    expect(Number.isInteger(correct)).toBe(true);
    const scale = Math.max(...c.grad.map(Math.abs));
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(grad[i]! - c.grad[i]!));
    expect(worst / scale).toBeLessThan(2e-6);

    // FGSM through perturb: same signs and the same float32 x_adv where |∇| is not tiny.
    const spec = attackSpec({ method: 'fgsm', epsilon: fixture.epsilon, range: fixture.range });
    const out = new Float32Array(x.length);
    await perturb(spec, x, x.length / c.batch, Array.from({ length: c.batch }, (_, k) => k), 0, async (at, g) => void (await runner.gradient(at, batch, g)), out);
    const tiny = 1e-6 * Math.max(...c.grad64.map(Math.abs));
    let compared = 0;
    for (let i = 0; i < x.length; i++) {
      if (Math.abs(c.grad64[i]!) <= tiny) continue;
      compared++;
      expect(Math.sign(grad[i]!), `sign of element ${i}`).toBe(Math.sign(c.grad[i]!));
      expect(out[i], `x_adv element ${i}`).toBe(c.x_adv[i]);
    }
    expect(compared).toBeGreaterThan(0.95 * x.length);
    // Every element moved by exactly ε (up to float32 rounding) or hit the range.
    for (let i = 0; i < x.length; i++) {
      const moved = Math.abs(out[i]! - x[i]!);
      if (out[i] !== 0 && out[i] !== 1) expect(moved).toBeCloseTo(fixture.epsilon, 6);
    }

    // attack(): clean figures equal the gradient run's, and FGSM raises the loss.
    const r = await runner.attack(batch, spec, 0, Array.from({ length: c.batch }, (_, k) => k));
    expect(r).toMatchObject({ count: c.batch, correct, lossSum });
    expect(r.adversarialLossSum).toBeGreaterThan(r.lossSum);
  });
});
