/**
 * The SIMD step kernels give exactly the bits of their scalar specification (reference.ts), on
 * values chosen to expose any change of rounding or order: magnitudes from 2^−40 to 2^40,
 * denormals, signed zeros, and (where a kernel must carry them) NaN and ±Inf.
 */
import { describe, expect, it } from 'vitest';
import { Arena, FlatVector } from '../../shared/kernels/index.js';
import { Rng } from '../../shared/random.js';
import * as ref from './reference.js';

/** Tensor sizes with every remainder mod 4, so that padding sits between tensors. */
const SIZES = [37, 4, 1, 130, 3, 2];

function wide(n: number, rng: Rng): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const r = rng.int(0, 19);
    a[i] = r === 0 ? 0 : r === 1 ? -0 : r === 2 ? (rng.uniform() - 0.5) * 2 ** -130 : (rng.uniform() * 2 - 1) * 2 ** rng.int(-40, 40);
  }
  return a;
}

function fill(v: FlatVector, values: readonly Float32Array[]): FlatVector {
  v.setParts(values);
  return v;
}

function concat(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Same bits, or both NaN (NaN payloads are not specified). */
function expectSameBits(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  const a = new Uint32Array(actual.buffer.slice(actual.byteOffset, actual.byteOffset + actual.byteLength));
  const e = new Uint32Array(expected.buffer.slice(expected.byteOffset, expected.byteOffset + expected.byteLength));
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(actual[i]) && Number.isNaN(expected[i])) continue;
    if (a[i] !== e[i]) throw new Error(`element ${i}: got ${actual[i]} (0x${a[i]!.toString(16)}), expected ${expected[i]} (0x${e[i]!.toString(16)})`);
  }
}

/** The reference works on whole tensors; the padded layout's lanes are by padded index: lay the values out the same way. */
function paddedCopy(v: FlatVector): Float32Array {
  return v.whole.slice();
}

for (const kind of ['fixed', 'growable'] as const) {
  const newArena = () => (kind === 'fixed' ? Arena.fixed(Arena.bytesFor(SIZES, 8)) : Arena.growable());

  describe(`step kernels (${kind} arena)`, () => {
    it('add gives the float32 sum of every element, padding staying zero', () => {
      const arena = newArena();
      const rng = Rng.seeded(1);
      const a = fill(arena.vector(SIZES), SIZES.map((n) => wide(n, rng)));
      const b = fill(arena.vector(SIZES), SIZES.map((n) => wide(n, rng)));
      const expected = ref.add(paddedCopy(a), paddedCopy(b));
      arena.kernels.add(a.ptr, a.ptr, b.ptr, a.padded);
      expectSameBits(a.whole, expected);
      a.parts.forEach((p, i) => expect(a.whole.subarray(a.offsets[i]! + p.length, a.offsets[i + 1]!).every((x) => Object.is(x, 0))).toBe(true));
    });

    it('scale_clamp_sumsq scales, clamps and sums squares in the specified lanes', () => {
      const arena = newArena();
      const rng = Rng.seeded(2);
      for (const [s, limit] of [
        [1 / 128, Infinity],
        [1 / 3, 1e-3],
        [1e3, 2 ** 20],
        [1, 0.5],
      ] as const) {
        const g = fill(arena.vector(SIZES), SIZES.map((n) => wide(n, rng)));
        const expected = ref.scaleClamp(paddedCopy(g), s, limit);
        const sumsq = arena.kernels.scale_clamp_sumsq(g.ptr, g.padded, Math.fround(s), Math.fround(limit));
        expectSameBits(g.whole, expected);
        expect(sumsq).toBe(ref.sumsq(expected));
        arena.release(g);
      }
    });

    it('scale_clamp_sumsq answers NaN for NaN and infinities, even those clamping would hide', () => {
      const arena = newArena();
      for (const bad of [NaN, Infinity, -Infinity]) {
        const g = arena.vector([9]);
        g.parts[0]!.set([1, 2, 3, 4, 5, bad, 7, 8, 9]);
        expect(arena.kernels.scale_clamp_sumsq(g.ptr, g.padded, 0.5, Math.fround(0.5))).toBeNaN();
        arena.release(g);
      }
    });

    it('sumsq sums squares in the specified lanes without writing, and turns NaN or infinity into a non-finite sum', () => {
      const arena = newArena();
      const g = fill(arena.vector(SIZES), SIZES.map((n) => wide(n, Rng.seeded(12))));
      const before = paddedCopy(g);
      expect(arena.kernels.sumsq(g.ptr, g.padded)).toBe(ref.sumsq(before));
      expectSameBits(g.whole, before);
      g.parts[3]![100] = -Infinity;
      expect(Number.isFinite(arena.kernels.sumsq(g.ptr, g.padded))).toBe(false);
      g.parts[3]![100] = NaN;
      expect(arena.kernels.sumsq(g.ptr, g.padded)).toBeNaN();
    });

    it('first_nonfinite finds the first NaN or infinity by padded index, or says none', () => {
      const arena = newArena();
      const v = fill(arena.vector(SIZES), SIZES.map((n) => wide(n, Rng.seeded(4))));
      expect(arena.kernels.first_nonfinite(v.ptr, v.padded)).toBe(-1);
      v.parts[3]![77] = -Infinity;
      v.parts[3]![90] = NaN;
      const at = arena.kernels.first_nonfinite(v.ptr, v.padded);
      expect(v.locate(at)).toEqual({ part: 3, element: 77 });
      v.parts[0]![5] = NaN;
      expect(v.locate(arena.kernels.first_nonfinite(v.ptr, v.padded))).toEqual({ part: 0, element: 5 });
    });

    const penalties: ref.Penalty[] = [
      { s: 1, l2: 0, l1: 0 },
      { s: Math.fround(0.37), l2: 0, l1: 0 },
      { s: 1, l2: Math.fround(0.01), l1: 0 },
      { s: Math.fround(0.9), l2: Math.fround(0.01), l1: Math.fround(0.003) },
    ];

    it('sgd matches its specification bit for bit, with and without penalties and clipping', () => {
      const arena = newArena();
      const rng = Rng.seeded(5);
      for (const p of penalties) {
        const w = fill(arena.vector(SIZES), SIZES.map((n) => wide(n, rng)));
        const g = fill(arena.vector(SIZES), SIZES.map((n) => wide(n, rng)));
        const we = paddedCopy(w);
        const lr = Math.fround(0.05);
        ref.sgd(we, paddedCopy(g), lr, p);
        arena.kernels.sgd(w.ptr, g.ptr, w.padded, lr, p.s, p.l2, p.l1);
        expectSameBits(w.whole, we);
      }
    });

    for (const nesterov of [false, true]) {
      it(`${nesterov ? 'nesterov' : 'momentum'} matches its specification over three steps`, () => {
        const arena = newArena();
        const rng = Rng.seeded(nesterov ? 7 : 6);
        for (const p of penalties) {
          const w = fill(arena.vector(SIZES), SIZES.map((n) => wide(n, rng)));
          const v = arena.vector(SIZES);
          const we = paddedCopy(w);
          const ve = paddedCopy(v);
          const lr = Math.fround(0.1);
          const mu = Math.fround(0.9);
          for (let step = 0; step < 3; step++) {
            const g = fill(arena.vector(SIZES), SIZES.map((n) => wide(n, rng)));
            ref.momentum(we, paddedCopy(g), ve, lr, mu, p, nesterov);
            arena.kernels.momentum(w.ptr, g.ptr, v.ptr, w.padded, lr, mu, p.s, p.l2, p.l1, nesterov ? 1 : 0);
            expectSameBits(w.whole, we);
            expectSameBits(v.whole, ve);
          }
        }
      });
    }

    it('adam (and adamw through keep) matches its specification over three steps', () => {
      const arena = newArena();
      const rng = Rng.seeded(8);
      const f = Math.fround;
      for (const keep of [1, f(1 - 1e-3 * 0.01)]) {
        for (const p of penalties) {
          const w = fill(arena.vector(SIZES), SIZES.map((n) => wide(n, rng)));
          const m = arena.vector(SIZES);
          const v = arena.vector(SIZES);
          const [we, me, ve] = [paddedCopy(w), paddedCopy(m), paddedCopy(v)];
          for (let t = 1; t <= 3; t++) {
            const k: ref.AdamConstants = { b1: f(0.9), c1: f(1 - 0.9), b2: f(0.999), c2: f(1 - 0.999), ss: f(1e-3 / (1 - 0.9 ** t)), isb2: f(1 / Math.sqrt(1 - 0.999 ** t)), eps: f(1e-8), keep };
            const g = fill(arena.vector(SIZES), SIZES.map((n) => wide(n, rng)));
            ref.adam(we, paddedCopy(g), me, ve, k, p);
            arena.kernels.adam(w.ptr, g.ptr, m.ptr, v.ptr, w.padded, k.b1, k.c1, k.b2, k.c2, k.ss, k.isb2, k.eps, k.keep, p.s, p.l2, p.l1);
            expectSameBits(w.whole, we);
            expectSameBits(m.whole, me);
            expectSameBits(v.whole, ve);
          }
        }
      }
    });
  });
}

describe('arenas', () => {
  it('a growable arena keeps earlier views valid when it grows', () => {
    const arena = Arena.growable(65536);
    const first = arena.vector([1000]);
    first.parts[0]!.fill(3);
    const big = arena.vector([4_000_000]);
    expect(arena.memory.buffer.byteLength).toBeGreaterThanOrEqual(16_000_000);
    expect(first.parts[0]!.length).toBe(1000);
    expect(first.parts[0]!.every((x) => x === 3)).toBe(true);
    big.parts[0]![3_999_999] = 1;
    arena.kernels.add(first.ptr, first.ptr, first.ptr, first.padded);
    expect(first.parts[0]![999]).toBe(6);
  });

  it('a fixed arena refuses to grow past its size and says so', () => {
    const arena = Arena.fixed(Arena.bytesFor([1000], 2));
    arena.vector([1000]);
    arena.vector([1000]);
    expect(() => arena.vector([70_000])).toThrow(/fixed arena does not grow/);
  });

  it('hands a released vector out again zero-filled', () => {
    const arena = Arena.growable();
    const a = arena.vector([5, 6]);
    a.parts[1]!.fill(7);
    arena.release(a);
    const b = arena.vector([5, 6]);
    expect(b.ptr).toBe(a.ptr);
    expect(b.whole.every((x) => x === 0)).toBe(true);
  });

  it('lays tensors out on 4-value boundaries and locates padded indices', () => {
    const v = Arena.growable().vector([3, 4, 5]);
    expect(v.offsets).toEqual([0, 4, 8, 16]);
    expect(v.locate(9)).toEqual({ part: 2, element: 1 });
    expect(v.locate(5)).toEqual({ part: 1, element: 1 });
  });
});
