/**
 * The ordered gradient sum. A step's k micro-batch results may arrive in any order from any
 * worker; they are always added in micro-batch index order 0..k−1, so the sum is bit-identical
 * however the work was scheduled.
 *
 * Accumulation is in float64 (decided here): each worker already summed its micro-batch in
 * float32; adding k of those in float32 would round k − 1 more times, and the step's mean would
 * then depend on how the batch was cut into micro-batches more than it must. In float64 every
 * partial sum of float32 values of similar magnitude is exact or nearly so, and the mean is
 * rounded to float32 once. The fixed order is what makes the result reproducible; float64 is
 * what keeps it close to the exact sum. Memory: one Float64Array per param per step in flight.
 *
 * Results that arrive ahead of their turn are held (by reference, not copied; callers hand over
 * fresh arrays) and folded in as soon as every lower index has been folded, so memory holds only
 * the out-of-order window, not all k results.
 */
import { AggregationConfigError, GradientShapeError, IncompleteAggregationError } from './errors.js';
import { isNonFinite, type NonFiniteLocation } from './non-finite.js';

export class OrderedSum {
  private readonly acc: Float64Array[];
  private readonly held = new Map<number, readonly Float32Array[]>();
  private readonly received: Uint8Array;
  /** Micro-batches 0..folded−1 are in the sum. */
  private folded = 0;
  private readonly bad: NonFiniteLocation[] = [];

  /**
   * @param sizes element count of each parameter, in parameter order
   * @param count k, the number of micro-batches in the step
   * @param names parameter names, for error messages
   */
  constructor(
    readonly sizes: readonly number[],
    readonly count: number,
    private readonly names?: readonly string[],
  ) {
    if (!Number.isInteger(count) || count < 1) throw new AggregationConfigError('count', count, 'must be an integer ≥ 1');
    this.acc = sizes.map((n) => new Float64Array(n));
    this.received = new Uint8Array(count);
  }

  /**
   * Adds micro-batch `index`'s per-parameter gradient sums. The first result for an index wins;
   * a repeat (a backup task or a reassigned lease finishing late) is ignored and returns false.
   * @throws GradientShapeError when the result does not have the step's parameter layout.
   */
  add(index: number, grads: readonly Float32Array[]): boolean {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) {
      throw new GradientShapeError(index, `index out of range: the step has micro-batches 0..${this.count - 1}`);
    }
    if (this.received[index]) return false;
    this.checkShape(index, grads);
    this.received[index] = 1;
    this.held.set(index, grads);
    while (this.held.has(this.folded)) {
      this.fold(this.folded, this.held.get(this.folded)!);
      this.held.delete(this.folded);
      this.folded += 1;
    }
    return true;
  }

  /** Whether every micro-batch has been added (and folded in). */
  get complete(): boolean {
    return this.folded === this.count;
  }

  /** Indices not yet received, ascending. */
  missing(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.count; i++) if (!this.received[i]) out.push(i);
    return out;
  }

  /** The first non-finite value of each folded micro-batch that had one, in index order. */
  nonFinite(): NonFiniteLocation[] {
    return this.bad.map((b) => ({ ...b }));
  }

  /**
   * The per-parameter sums over all k micro-batches (the accumulators themselves, not copies).
   * @throws IncompleteAggregationError naming the micro-batches still missing.
   */
  sums(): Float64Array[] {
    if (!this.complete) throw new IncompleteAggregationError(this.missing());
    return this.acc;
  }

  private checkShape(index: number, grads: readonly Float32Array[]): void {
    if (grads.length !== this.sizes.length) {
      throw new GradientShapeError(index, `has ${grads.length} gradient arrays, the model has ${this.sizes.length} params`);
    }
    for (let p = 0; p < grads.length; p++) {
      if (grads[p]!.length !== this.sizes[p]) {
        const name = this.names?.[p] ?? `#${p}`;
        throw new GradientShapeError(index, `gradient of param ${name} has ${grads[p]!.length} values, expected ${this.sizes[p]}`);
      }
    }
  }

  private fold(microbatch: number, grads: readonly Float32Array[]): void {
    let firstBad: NonFiniteLocation | undefined;
    for (let p = 0; p < grads.length; p++) {
      const g = grads[p]!;
      const a = this.acc[p]!;
      for (let i = 0; i < g.length; i++) {
        const x = g[i]!;
        if (firstBad === undefined && isNonFinite(x)) firstBad = { microbatch, param: p, element: i, value: x };
        a[i] = a[i]! + x;
      }
    }
    if (firstBad) this.bad.push(firstBad);
  }
}

/**
 * Sums a step's micro-batch results, given by index (entry j = micro-batch j), in index order.
 * @throws IncompleteAggregationError when an entry is still undefined.
 */
export function sumInOrder(microbatches: readonly (readonly Float32Array[] | undefined)[], names?: readonly string[]): Float64Array[] {
  if (microbatches.length === 0) throw new AggregationConfigError('microbatches', 0, 'must hold at least one micro-batch');
  const missing = microbatches.flatMap((m, j) => (m === undefined ? [j] : []));
  if (missing.length > 0) throw new IncompleteAggregationError(missing);
  const sum = new OrderedSum(microbatches[0]!.map((g) => g.length), microbatches.length, names);
  microbatches.forEach((m, j) => sum.add(j, m!));
  return sum.sums();
}

/**
 * mean = sum / totalSamples, rounded once to float32. The graph outputs per-micro-batch SUMS, so
 * dividing by the true sample count weights a short last batch by its real size.
 */
export function meanFromSums(sums: readonly Float64Array[], totalSamples: number): Float32Array[] {
  if (!Number.isInteger(totalSamples) || totalSamples < 1) {
    throw new AggregationConfigError('totalSamples', totalSamples, 'must be an integer ≥ 1');
  }
  return sums.map((s) => {
    const out = new Float32Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s[i]! / totalSamples;
    return out;
  });
}
