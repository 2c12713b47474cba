/** Errors raised while combining micro-batch gradients into one step's gradient. */

/** Base of every aggregation error. */
export class AggregationError extends Error {
  override name = 'AggregationError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A micro-batch result does not have the step's parameter layout. */
export class GradientShapeError extends AggregationError {
  override name = 'GradientShapeError';
  constructor(
    readonly microbatch: number,
    message: string,
  ) {
    super(`micro-batch ${microbatch}: ${message}`);
  }
}

/** The step's sum was asked for before every micro-batch had arrived. */
export class IncompleteAggregationError extends AggregationError {
  override name = 'IncompleteAggregationError';
  constructor(readonly missing: readonly number[]) {
    super(`micro-batches not yet received: ${formatIndices(missing)}`);
  }
}

/** An operation that needs finite gradients (clipping by norm) met NaN or ±Inf. */
export class NonFiniteGradientError extends AggregationError {
  override name = 'NonFiniteGradientError';
}

/** A clipping limit or sample count is out of range. */
export class AggregationConfigError extends AggregationError {
  override name = 'AggregationConfigError';
  constructor(
    readonly field: string,
    readonly value: unknown,
    requirement: string,
  ) {
    super(`\`${field}\` ${requirement}, got ${String(value)}`);
  }
}

function formatIndices(xs: readonly number[]): string {
  const head = xs.slice(0, 20).join(', ');
  return xs.length > 20 ? `${head}, … (${xs.length} in all)` : head;
}
