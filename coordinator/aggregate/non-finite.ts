/**
 * Naming NaN and ±Inf, so that a skipped step's log line says which micro-batch, parameter and
 * element produced the bad value.
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
