/** Errors raised while turning a step's summed gradient into what the optimizer applies. */

/** Base of every aggregation error. */
export class AggregationError extends Error {
  override name = 'AggregationError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A clipping limit or divisor is out of range. */
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
