/**
 * penalizedGradient skips λ₁·sign(w) when λ₁ = 0: the result must have exactly the bits of the
 * full formula ∇E + α·w + λ₁·sign(w), signed zeros and NaNs included.
 */
import { describe, expect, it } from 'vitest';
import { penalizedGradient } from '../../../coordinator/optim/regularize.js';
import { Rng } from '../../../shared/random.js';

const SPECIAL = [0, -0, 1, -1, 1e-45, -1e-45, 3.4e38, -3.4e38, Infinity, -Infinity, NaN, 0.1, -0.1];

/** The formula as written in the lecture, with every term. */
const full = (g: number, w: number, l2: number, l1: number) => g + l2 * w + l1 * Math.sign(w);

const bits = (x: number) => {
  const b = new DataView(new ArrayBuffer(8));
  b.setFloat64(0, x);
  return b.getBigUint64(0);
};

describe('penalizedGradient without L1', () => {
  it('has the bits of the full formula for special and random values, with and without L2', () => {
    const rng = Rng.seeded(3);
    const values = [...SPECIAL, ...Array.from({ length: 200 }, () => (rng.uniform() - 0.5) * 10 ** rng.int(-40, 10))];
    let compared = 0;
    for (const l2 of [0, 1e-4, 0.5]) {
      for (const g of values) {
        for (const w of values) {
          const want = full(g, w, l2, 0);
          const got = penalizedGradient(g, w, { l2, l1: 0 });
          // NaN payloads are not observable in float32 storage; compare NaN-ness, else the bits.
          if (Number.isNaN(want)) expect(got, `g=${g} w=${w} l2=${l2}`).toBeNaN();
          else expect(bits(got), `g=${g} w=${w} l2=${l2}`).toBe(bits(want));
          compared++;
        }
      }
    }
    expect(compared).toBe(3 * values.length ** 2);
  });

  it('still applies L1 when it is set', () => {
    expect(penalizedGradient(0.5, -2, { l2: 0, l1: 0.1 })).toBe(0.5 - 0.1);
    expect(penalizedGradient(0.5, 2, { l2: 0.01, l1: 0.1 })).toBe(full(0.5, 2, 0.01, 0.1));
    expect(penalizedGradient(0.5, 0, { l2: 0, l1: 0.1 })).toBe(0.5);
  });
});
