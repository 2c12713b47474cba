/**
 * Locating NaN and ±Inf in gradients, so that a step can be skipped and the log can say which
 * micro-batch, parameter and element produced the bad value.
 */

/** Where a non-finite value sits. `microbatch` is set when the value was found in one micro-batch's result. */
export interface NonFiniteLocation {
  microbatch?: number;
  /** Index into the parameter list. */
  param: number;
  /** Element index inside that parameter. */
  element: number;
  value: number;
}

/** x − x is 0 for every finite x and NaN for NaN and ±Inf: one subtraction, no branches on the value. */
export function isNonFinite(x: number): boolean {
  return x - x !== 0;
}

/** The first non-finite value in parameter order, element order; undefined when all are finite. */
export function findNonFinite(grads: readonly ArrayLike<number>[]): NonFiniteLocation | undefined {
  for (let p = 0; p < grads.length; p++) {
    const g = grads[p]!;
    for (let i = 0; i < g.length; i++) {
      if (isNonFinite(g[i]!)) return { param: p, element: i, value: g[i]! };
    }
  }
  return undefined;
}

/** For each micro-batch result holding a non-finite value, its first one, in micro-batch index order. */
export function nonFiniteMicrobatches(microbatches: readonly (readonly Float32Array[] | undefined)[]): NonFiniteLocation[] {
  const out: NonFiniteLocation[] = [];
  microbatches.forEach((grads, microbatch) => {
    const at = grads && findNonFinite(grads);
    if (at) out.push({ microbatch, ...at });
  });
  return out;
}
