/** The ordered sum: bit-identical whatever the arrival order, first result wins, true-count mean. */
import { describe, expect, it } from 'vitest';
import { AggregationConfigError, GradientShapeError, IncompleteAggregationError } from '../../../coordinator/aggregate/errors.js';
import { OrderedSum, meanFromSums, sumInOrder } from '../../../coordinator/aggregate/ordered-sum.js';
import { Rng } from '../../../shared/random.js';

const sizes = [64, 5];

/**
 * Micro-batch results with a wide dynamic range (magnitudes 2^−40 … 2^40), so that adding them
 * in another order changes the float64 sum: the test below first shows that it does.
 */
function results(k: number, seed: number): Float32Array[][] {
  const rng = Rng.seeded(seed);
  return Array.from({ length: k }, () =>
    sizes.map((n) => {
      const a = new Float32Array(n);
      for (let i = 0; i < n; i++) a[i] = (rng.uniform() * 2 - 1) * 2 ** rng.int(-40, 40);
      return a;
    }),
  );
}

function bits(arrays: readonly Float64Array[]): string {
  return arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex')).join('|');
}

function shuffled(k: number, rng: Rng): number[] {
  return [...rng.permutation(k)];
}

/** What a coordinator that adds results as they come would compute. */
function sumInArrivalOrder(res: Float32Array[][], arrival: number[]): Float64Array[] {
  const acc = sizes.map((n) => new Float64Array(n));
  for (const j of arrival) res[j]!.forEach((g, p) => g.forEach((x, i) => (acc[p]![i]! += x)));
  return acc;
}

describe('OrderedSum', () => {
  it('gives bit-identical sums for every arrival order of the same results', () => {
    const k = 9;
    const res = results(k, 11);
    const reference = bits(sumInOrder(res));
    const rng = Rng.seeded(5);
    let arrivalOrderDiffered = 0;
    for (let trial = 0; trial < 25; trial++) {
      const arrival = shuffled(k, rng);
      const sum = new OrderedSum(sizes, k);
      for (const j of arrival) expect(sum.add(j, res[j]!)).toBe(true);
      expect(sum.complete).toBe(true);
      expect(bits(sum.sums())).toBe(reference);
      if (bits(sumInArrivalOrder(res, arrival)) !== reference) arrivalOrderDiffered++;
    }
    // The data are order-sensitive: summing in arrival order would have given other bits.
    expect(arrivalOrderDiffered).toBeGreaterThan(20);
  });

  it('folds in index order as soon as a prefix is complete, holding only the ones that came early', () => {
    const res = results(4, 3);
    const sum = new OrderedSum(sizes, 4);
    sum.add(2, res[2]!);
    sum.add(3, res[3]!);
    expect(sum.complete).toBe(false);
    expect(sum.missing()).toEqual([0, 1]);
    expect(() => sum.sums()).toThrow(IncompleteAggregationError);
    expect(() => sum.sums()).toThrow(/micro-batches not yet received: 0, 1/);
    sum.add(0, res[0]!);
    sum.add(1, res[1]!);
    expect(sum.complete).toBe(true);
    expect(bits(sum.sums())).toBe(bits(sumInOrder(res)));
  });

  it('keeps the first result for an index and ignores a late duplicate', () => {
    const [a, b] = results(2, 8);
    const sum = new OrderedSum(sizes, 1);
    expect(sum.add(0, a!)).toBe(true);
    expect(sum.add(0, b!)).toBe(false);
    expect(bits(sum.sums())).toBe(bits(a!.map((g) => Float64Array.from(g))));
  });

  it('rejects a result with the wrong layout, naming micro-batch and param', () => {
    const sum = new OrderedSum(sizes, 3, ['fc.weight', 'fc.bias']);
    expect(() => sum.add(1, [new Float32Array(64), new Float32Array(4)])).toThrow(GradientShapeError);
    expect(() => sum.add(1, [new Float32Array(64), new Float32Array(4)])).toThrow(/micro-batch 1: gradient of param fc.bias has 4 values, expected 5/);
    expect(() => sum.add(2, [new Float32Array(64)])).toThrow(/micro-batch 2: has 1 gradient arrays, the model has 2 params/);
    expect(() => sum.add(3, [new Float32Array(64), new Float32Array(5)])).toThrow(/index out of range: the step has micro-batches 0..2/);
    // A rejected result does not count as received.
    expect(sum.missing()).toEqual([0, 1, 2]);
  });

  it('sumInOrder names the slots still undefined', () => {
    const res: (Float32Array[] | undefined)[] = results(4, 1);
    res[1] = undefined;
    res[3] = undefined;
    expect(() => sumInOrder(res)).toThrow(/micro-batches not yet received: 1, 3/);
    expect(() => sumInOrder([])).toThrow(AggregationConfigError);
  });
});

describe('meanFromSums', () => {
  it('divides by the true sample count, so a short last micro-batch weighs by its size', () => {
    // Ten samples whose gradient is its own index 0..9, cut into micro-batches of 4, 4 and 2.
    // The graph outputs sums: 0+1+2+3 = 6, 4+5+6+7 = 22, 8+9 = 17; the mean is 45/10 = 4.5
    // (averaging the three micro-batch means, (1.5 + 5.5 + 8.5)/3 = 5.1667, would be wrong).
    const res = [[Float32Array.of(6)], [Float32Array.of(22)], [Float32Array.of(17)]];
    const [mean] = meanFromSums(sumInOrder(res), 10);
    expect(mean![0]).toBe(4.5);
  });

  it('rounds once to float32 from the float64 sum', () => {
    // 1 + 2^−30 is not a float32, but 2^−30 survives in the float64 sum until the division.
    const res = [[Float32Array.of(1)], [Float32Array.of(2 ** -30)], [Float32Array.of(-1)]];
    const [mean] = meanFromSums(sumInOrder(res), 2);
    expect(mean![0]).toBe(2 ** -31);
  });

  it('rejects a sample count below 1', () => {
    expect(() => meanFromSums([new Float64Array(1)], 0)).toThrow(/`totalSamples` must be an integer ≥ 1, got 0/);
  });
});
