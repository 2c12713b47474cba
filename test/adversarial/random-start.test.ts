/**
 * PGD's random start and perturb's arithmetic: a sample's start (and its whole attack, for a
 * gradient that depends on the sample alone) is bit-identical for the same (seed, index)
 * whatever the batch, position or neighbours; other seeds or indices give other starts; the
 * offsets are uniform on [−ε, ε); FGSM is clamp(x + ε·sign(∇)) with sign(0) = 0; a NaN gradient
 * gives NaN; `out` may be the clean batch itself; bad specs are refused naming the field.
 */
import { describe, it, expect } from 'vitest';
import { perturb, type InputGradient } from '../../shared/adversarial/perturb.js';
import { attackSpec, checkAttackSpec, describeAttack, type AttackSpec } from '../../shared/adversarial/attack-spec.js';

const W = 64;
const zeroGradient: InputGradient = async (_x, g) => void g.fill(0);
/** A gradient of each element alone (no coupling between samples): sin(13x + j). */
const localGradient: InputGradient = async (x, g) => {
  for (let i = 0; i < x.length; i++) g[i] = Math.sin(13 * x[i]! + (i % W));
};

function rows(values: (k: number, j: number) => number, count: number): Float32Array {
  return Float32Array.from({ length: count * W }, (_, i) => values(Math.floor(i / W), i % W));
}
const row = (a: Float32Array, k: number) => Array.from(a.subarray(k * W, (k + 1) * W));

const PGD: AttackSpec = { method: 'pgd', epsilon: 0.2, steps: 1, alpha: 0.05, randomStart: true };

describe('PGD random start', () => {
  it('is the same bits for the same (seed, index) in any batch position, and differs otherwise', async () => {
    // Sample i's clean row is a function of i; batch A holds indices [5, 9, 2], batch B [2, 7, 5, 9].
    const sample = (i: number) => (j: number) => ((i * 37 + j * 11) % 100) / 100;
    const a = [5, 9, 2];
    const b = [2, 7, 5, 9];
    for (const gradient of [zeroGradient, localGradient]) {
      for (const spec of [PGD, { ...PGD, steps: 7, range: [0, 1] as const }]) {
        const xa = rows((k, j) => sample(a[k]!)(j), a.length);
        const xb = rows((k, j) => sample(b[k]!)(j), b.length);
        const oa = new Float32Array(xa.length);
        const ob = new Float32Array(xb.length);
        await perturb(spec, xa, W, a, 42, gradient, oa);
        await perturb(spec, xb, W, Uint32Array.from(b), 42, gradient, ob);
        expect(row(oa, 0)).toEqual(row(ob, 2)); // index 5
        expect(row(oa, 1)).toEqual(row(ob, 3)); // index 9
        expect(row(oa, 2)).toEqual(row(ob, 0)); // index 2
        expect(row(oa, 0)).not.toEqual(row(xa, 0));
      }
    }
    // Another seed, or another index with the same clean row, starts elsewhere.
    const x = rows(() => 0.5, 2);
    const o1 = new Float32Array(x.length);
    const o2 = new Float32Array(x.length);
    await perturb(PGD, x, W, [3, 4], 1, zeroGradient, o1);
    await perturb(PGD, x, W, [3, 4], 2, zeroGradient, o2);
    expect(row(o1, 0)).not.toEqual(row(o1, 1));
    expect(row(o1, 0)).not.toEqual(row(o2, 0));
  });

  it('draws offsets uniformly on [−ε, ε)', async () => {
    const n = 2000;
    const x = new Float32Array(n * W).fill(0.5);
    const out = new Float32Array(x.length);
    await perturb({ ...PGD, epsilon: 0.25 }, x, W, Array.from({ length: n }, (_, k) => k), 7, zeroGradient, out);
    const quarters = [0, 0, 0, 0, 0, 0, 0, 0];
    let sum = 0;
    let [lo, hi] = [Infinity, -Infinity];
    for (const v of out) {
      const u = (v - 0.5) / 0.25; // in [−1, 1)
      [lo, hi] = [Math.min(lo, u), Math.max(hi, u)];
      quarters[Math.min(7, Math.floor((u + 1) * 4))]!++;
      sum += u;
    }
    expect(lo).toBeGreaterThanOrEqual(-1);
    expect(lo).toBeLessThan(-0.999);
    expect(hi).toBeLessThan(1);
    expect(hi).toBeGreaterThan(0.999);
    // 128,000 draws: each eighth within 3% of 16,000 and the mean within 0.01 of 0.
    for (const q of quarters) expect(Math.abs(q - out.length / 8)).toBeLessThan(0.03 * (out.length / 8));
    expect(Math.abs(sum / out.length)).toBeLessThan(0.01);
  });
});

describe('perturb arithmetic', () => {
  it('FGSM: clamp(x + ε·sign(∇)) in float32, sign(0) = 0, NaN stays NaN', async () => {
    const x = Float32Array.from([0.5, 0.5, 0.5, 0.95, 0.02, 0.3, 0.7, 0.1]);
    const g = [1, -2, 0, 3, -1e-30, Number.NaN, -0, 5e-40];
    const out = new Float32Array(x.length);
    await perturb(attackSpec({ method: 'fgsm', epsilon: 0.1, range: [0, 1] }), x, 4, [0, 1], 0, async (_x, into) => void into.set(g), out);
    const e = Math.fround(0.1);
    expect(Array.from(out)).toEqual([Math.fround(x[0]! + e), Math.fround(x[1]! - e), x[2], 1, 0, Number.NaN, x[6], Math.fround(x[7]! + e)]);
  });

  it('PGD without random start: the first gradient is asked at the clean batch itself; the ball is around the clean input even in place', async () => {
    const x = Float32Array.from({ length: 2 * W }, (_, i) => (i % 10) / 10);
    const clean = Float32Array.from(x);
    const seen: Float32Array[] = [];
    const spec = attackSpec({ method: 'pgd', epsilon: 0.05, steps: 6, alpha: 0.02, randomStart: false, range: [0, 1] });
    const gradient: InputGradient = async (at, g) => {
      seen.push(at);
      g.fill(1);
    };
    const out = new Float32Array(x.length);
    await perturb(spec, x, W, [0, 1], 0, gradient, out);
    expect(seen[0]).toBe(x);
    expect(seen).toHaveLength(6);
    // Six steps of +0.02 against a +0.05 ball: every element ends at min(x + 0.05, 1).
    const e = Math.fround(0.05);
    expect(Array.from(out)).toEqual(Array.from(clean, (c) => Math.min(Math.fround(c + e), 1)));
    // In place (out = clean): the same result.
    await perturb(spec, x, W, [0, 1], 0, async (_a, g) => void g.fill(1), x);
    expect(Array.from(x)).toEqual(Array.from(out));
  });

  it('refuses bad specs naming the field, and fills defaults', () => {
    expect(() => attackSpec({ method: 'cw', epsilon: 0.1 })).toThrow("attack method must be one of fgsm, pgd, got 'cw'");
    expect(() => attackSpec({ method: 'pgd', epsilon: 0 })).toThrow('epsilon must be a finite number > 0, got 0');
    expect(() => attackSpec({ method: 'pgd', epsilon: 0.1, steps: 0 })).toThrow('steps must be an integer ≥ 1, got 0');
    expect(() => attackSpec({ method: 'pgd', epsilon: 0.1, alpha: -1 })).toThrow('alpha must be a finite number > 0, got -1');
    expect(() => attackSpec({ method: 'pgd', epsilon: 0.1, range: [1, 0] })).toThrow('range must be [low, high] with finite low < high, got [1, 0]');
    expect(() => checkAttackSpec({ method: 'fgsm', epsilon: 0.1, steps: 3, alpha: 0.1, randomStart: false })).toThrow('fgsm takes one step');
    expect(attackSpec({ method: 'pgd', epsilon: 0.3 })).toEqual({ method: 'pgd', epsilon: 0.3, steps: 10, alpha: 0.075, randomStart: true });
    expect(attackSpec({ method: 'fgsm', epsilon: 0.3, randomStart: true })).toEqual({ method: 'fgsm', epsilon: 0.3, steps: 1, alpha: 0.3, randomStart: false });
    expect(describeAttack(attackSpec({ method: 'pgd', epsilon: 0.1, steps: 20, range: [0, 1] }))).toBe('PGD-20 (ε=0.1, α=0.0125, random start, range [0, 1])');
  });
});
