/**
 * Each optimizer's first updates on a tiny model, against values worked out by hand below.
 * The model: a weight w = [1, −2, 0] (decay: true) and a bias b = [0.5] (decay: false).
 * The third weight starts at 0 with gradient 0: it shows that L2 and L1 do not move a zero weight
 * (α·0 = 0, sign(0) = 0). The bias is excluded from decay, so it must move exactly as without any.
 */
import { describe, expect, it } from 'vitest';
import { createOptimizer } from '../../../coordinator/optim/registry.js';
import type { OptimizerConfig, ParamSpec } from '../../../coordinator/optim/types.js';
import { Arena } from '../../../shared/kernels/index.js';
import { expectValues, vectorOf } from './close.js';

const specs: ParamSpec[] = [
  { name: 'w', size: 3, decay: true },
  { name: 'b', size: 1, decay: false },
];
const lr = 0.1;
/** Gradient used for updates 1 and 2 (and 3 unless stated). */
const G1 = () => [Float32Array.from([0.5, -0.25, 0]), Float32Array.from([1])];
/** A different gradient, for the update after. */
const G2 = () => [Float32Array.from([0.1, 0.2, 0]), Float32Array.from([-1])];

function run(cfg: OptimizerConfig, gradients: Float32Array[][]): Float32Array[][] {
  const arena = Arena.growable();
  const params = vectorOf(arena, [Float32Array.from([1, -2, 0]), Float32Array.from([0.5])]);
  const opt = createOptimizer(cfg, specs, arena);
  return gradients.map((g) => {
    opt.update(params, vectorOf(arena, g), lr);
    return params.parts.map((p) => p.slice());
  });
}

describe('sgd', () => {
  it('steps against the gradient: W ← W − ε∇E', () => {
    const [s1, s2] = run({ kind: 'sgd' }, [G1(), G1()]);
    // w: 1 − 0.1·0.5 = 0.95; −2 − 0.1·(−0.25) = −1.975     b: 0.5 − 0.1·1 = 0.4
    expectValues(s1![0]!, [0.95, -1.975, 0]);
    expectValues(s1![1]!, [0.4]);
    // w: 0.95 − 0.05 = 0.9; −1.975 + 0.025 = −1.95          b: 0.4 − 0.1 = 0.3
    expectValues(s2![0]!, [0.9, -1.95, 0]);
    expectValues(s2![1]!, [0.3]);
  });

  it('adds L2 as the lecture writes it, W ← W − ε(αW + ∇E), and not to the excluded bias', () => {
    const [s1, s2] = run({ kind: 'sgd', weightDecay: 0.01 }, [G1(), G1()]);
    // w0: 1 − 0.1·(0.5 + 0.01·1) = 1 − 0.051 = 0.949
    // w1: −2 − 0.1·(−0.25 + 0.01·(−2)) = −2 + 0.027 = −1.973
    expectValues(s1![0]!, [0.949, -1.973, 0]);
    expectValues(s1![1]!, [0.4]);
    // w0: 0.949 − 0.1·(0.5 + 0.00949) = 0.949 − 0.050949 = 0.898051
    // w1: −1.973 − 0.1·(−0.25 − 0.01973) = −1.973 + 0.026973 = −1.946027
    expectValues(s2![0]!, [0.898051, -1.946027, 0]);
    expectValues(s2![1]!, [0.3]);
  });

  it('adds L1 as α·sign(W) to the gradient, leaving zero weights and the bias alone', () => {
    const [s1, s2] = run({ kind: 'sgd', l1: 0.1 }, [G1(), G1()]);
    // w0: 1 − 0.1·(0.5 + 0.1) = 0.94;  w1: −2 − 0.1·(−0.25 − 0.1) = −1.965
    expectValues(s1![0]!, [0.94, -1.965, 0]);
    expectValues(s1![1]!, [0.4]);
    // the signs have not changed, so the same steps again: 0.94 − 0.06 = 0.88; −1.965 + 0.035 = −1.93
    expectValues(s2![0]!, [0.88, -1.93, 0]);
    expectValues(s2![1]!, [0.3]);
  });
});

describe('momentum (torch SGD, dampening 0)', () => {
  it('accumulates v ← μv + g and steps W ← W − εv', () => {
    const [s1, s2, s3] = run({ kind: 'momentum', momentum: 0.9 }, [G1(), G1(), G2()]);
    // 1: v = g → w = [0.95, −1.975], b = 0.4
    expectValues(s1![0]!, [0.95, -1.975, 0]);
    expectValues(s1![1]!, [0.4]);
    // 2: v = 0.9·0.5 + 0.5 = 0.95; 0.9·(−0.25) − 0.25 = −0.475; vb = 0.9 + 1 = 1.9
    //    w0 = 0.95 − 0.095 = 0.855; w1 = −1.975 + 0.0475 = −1.9275; b = 0.4 − 0.19 = 0.21
    expectValues(s2![0]!, [0.855, -1.9275, 0]);
    expectValues(s2![1]!, [0.21]);
    // 3 (g = [0.1, 0.2], gb = −1): v = 0.855 + 0.1 = 0.955; −0.4275 + 0.2 = −0.2275; vb = 1.71 − 1 = 0.71
    //    w0 = 0.855 − 0.0955 = 0.7595; w1 = −1.9275 + 0.02275 = −1.90475; b = 0.21 − 0.071 = 0.139
    expectValues(s3![0]!, [0.7595, -1.90475, 0]);
    expectValues(s3![1]!, [0.139]);
  });

  it('folds L2 into the gradient before the velocity', () => {
    const [s1, s2] = run({ kind: 'momentum', momentum: 0.9, weightDecay: 0.01 }, [G1(), G1()]);
    // 1: g' = [0.5 + 0.01, −0.25 − 0.02] = [0.51, −0.27] = v → w = [0.949, −1.973]; b = 0.4
    expectValues(s1![0]!, [0.949, -1.973, 0]);
    expectValues(s1![1]!, [0.4]);
    // 2: g' = [0.5 + 0.00949, −0.25 − 0.01973] = [0.50949, −0.26973]
    //    v = [0.459 + 0.50949, −0.243 − 0.26973] = [0.96849, −0.51273]
    //    w = [0.949 − 0.096849, −1.973 + 0.051273] = [0.852151, −1.921727]; b as without decay: 0.21
    expectValues(s2![0]!, [0.852151, -1.921727, 0]);
    expectValues(s2![1]!, [0.21]);
  });
});

describe('nesterov (torch SGD, nesterov=True)', () => {
  it('steps W ← W − ε(g + μv) with v ← μv + g', () => {
    const [s1, s2] = run({ kind: 'nesterov', momentum: 0.9 }, [G1(), G1()]);
    // 1: v = g; w0 = 1 − 0.1·(0.5 + 0.45) = 0.905; w1 = −2 − 0.1·(−0.25 − 0.225) = −1.9525
    //    b = 0.5 − 0.1·(1 + 0.9) = 0.31
    expectValues(s1![0]!, [0.905, -1.9525, 0]);
    expectValues(s1![1]!, [0.31]);
    // 2: v = [0.95, −0.475], vb = 1.9
    //    w0 = 0.905 − 0.1·(0.5 + 0.855) = 0.7695; w1 = −1.9525 − 0.1·(−0.25 − 0.4275) = −1.88475
    //    b = 0.31 − 0.1·(1 + 1.71) = 0.039
    expectValues(s2![0]!, [0.7695, -1.88475, 0]);
    expectValues(s2![1]!, [0.039]);
  });

  it('folds L1 into the gradient', () => {
    const [s1] = run({ kind: 'nesterov', momentum: 0.9, l1: 0.1 }, [G1()]);
    // g' = [0.6, −0.35] = v; w0 = 1 − 0.1·(0.6 + 0.54) = 0.886; w1 = −2 − 0.1·(−0.35 − 0.315) = −1.9335
    expectValues(s1![0]!, [0.886, -1.9335, 0]);
    expectValues(s1![1]!, [0.31]);
  });
});

// Adam with β₁ = 0.9, β₂ = 0.999, eps = 1e-8, ε = 0.1.
// Update 1: m = 0.1g, v = 0.001g², bias corrections 0.1 and 0.001, so the step is
//   0.1 · (0.1g/0.1) / (√(0.001g²)/√0.001 + 1e-8) = 0.1·g/(|g| + 1e-8) ≈ 0.1·sign(g).
// Update 2: bias corrections 1 − 0.81 = 0.19 and 1 − 0.998001 = 0.001999.
describe('adam (torch, bias-corrected)', () => {
  it('takes ≈ε·sign(g) first, then the bias-corrected ratio', () => {
    const [s1, s2] = run({ kind: 'adam' }, [G1(), G2()]);
    expectValues(s1![0]!, [0.9, -1.9, 0]);
    expectValues(s1![1]!, [0.4]);
    // w0: m = 0.9·0.05 + 0.1·0.1 = 0.055;      v = 0.999·0.00025 + 0.001·0.01 = 0.00025975
    //     0.9 − 0.1·(0.055/0.19)/(√(0.00025975/0.001999) + 1e-8) = 0.8196959043846512
    // w1: m = 0.9·(−0.025) + 0.1·0.2 = −0.0025; v = 0.999·0.0000625 + 0.001·0.04 = 0.0001024375
    //     −1.9 − 0.1·(−0.0025/0.19)/(√(0.0001024375/0.001999) + 1e-8) = −1.8941874955266318
    // b:  m = 0.09 − 0.1 = −0.01;  v = 0.000999 + 0.001 = 0.001999 → v̂ = 1
    //     0.4 − 0.1·(−0.01/0.19)/(1 + 1e-8) = 0.40526315784210526
    expectValues(s2![0]!, [0.8196959043846512, -1.8941874955266318, 0]);
    expectValues(s2![1]!, [0.40526315784210526]);
  });

  it('couples L2 into the gradient (and into the moments)', () => {
    const [s1, s2] = run({ kind: 'adam', weightDecay: 0.01 }, [G1(), G2()]);
    // 1: g' = [0.51, −0.27]: the step is still ≈0.1·sign(g')
    expectValues(s1![0]!, [0.9, -1.9, 0]);
    // 2: g' = [0.1 + 0.01·0.9, 0.2 + 0.01·(−1.9)] = [0.109, 0.181]
    //    w0: m = 0.9·0.051 + 0.1·0.109 = 0.0568; v = 0.999·0.001·0.51² + 0.001·0.109² = 0.0002717209
    //        0.9 − 0.1·(0.0568/0.19)/(√(0.0002717209/0.001999) + 1e-8) = 0.8189151723674939
    //    w1: m = 0.9·(−0.027) + 0.1·0.181 = −0.0062; v = 0.999·0.001·0.27² + 0.001·0.181² = 0.0001055881
    //        −1.9 − 0.1·(−0.0062/0.19)/(√(0.0001055881/0.001999) + 1e-8) = −1.8858016793737855
    //    b: excluded, as without decay
    expectValues(s2![0]!, [0.8189151723674939, -1.8858016793737855, 0]);
    expectValues(s2![1]!, [0.40526315784210526]);
  });
});

describe('adamw (torch, decoupled weight decay)', () => {
  it('shrinks decayed weights by (1 − ελ) outside the Adam ratio', () => {
    const [s1, s2] = run({ kind: 'adamw', weightDecay: 0.1 }, [G1(), G2()]);
    // 1: w·(1 − 0.1·0.1) = w·0.99, then ∓0.1: [0.99 − 0.1, −1.98 + 0.1] = [0.89, −1.88]; b: 0.4 (no shrink)
    expectValues(s1![0]!, [0.89, -1.88, 0]);
    expectValues(s1![1]!, [0.4]);
    // 2: moments as plain Adam (the gradient carries no decay):
    //    w0 = 0.89·0.99 − 0.1·(0.055/0.19)/(√(0.00025975/0.001999) + 1e-8) = 0.8007959043846512
    //    w1 = −1.88·0.99 − 0.1·(−0.0025/0.19)/(√(0.0001024375/0.001999) + 1e-8) = −1.8553874955266318
    //    b  = 0.40526315784210526 (as Adam)
    expectValues(s2![0]!, [0.8007959043846512, -1.8553874955266318, 0]);
    expectValues(s2![1]!, [0.40526315784210526]);
  });

  it('defaults λ to torch AdamW 0.01', () => {
    const [s1] = run({ kind: 'adamw' }, [G1()]);
    // [1·0.999 − 0.1, −2·0.999 + 0.1] = [0.899, −1.898]
    expectValues(s1![0]!, [0.899, -1.898, 0]);
  });

  it('keeps L1 in the gradient', () => {
    const [, s2] = run({ kind: 'adamw', weightDecay: 0, l1: 0.1 }, [G1(), G2()]);
    // 1: g' = [0.6, −0.35] → [0.9, −1.9].  2: g' = [0.1 + 0.1, 0.2 − 0.1] = [0.2, 0.1]
    //    w0: m = 0.9·0.06 + 0.1·0.2 = 0.074;   v = 0.999·0.001·0.36 + 0.001·0.04 = 0.00039964
    //    w1: m = 0.9·(−0.035) + 0.1·0.1 = −0.0215; v = 0.999·0.001·0.1225 + 0.001·0.01 = 0.0001323775
    const w0 = 0.9 - (0.1 * (0.074 / 0.19)) / (Math.sqrt(0.00039964 / 0.001999) + 1e-8);
    const w1 = -1.9 - (0.1 * (-0.0215 / 0.19)) / (Math.sqrt(0.0001323775 / 0.001999) + 1e-8);
    expect(w0).toBeCloseTo(0.81289, 4);
    expectValues(s2![0]!, [w0, w1, 0]);
  });
});
