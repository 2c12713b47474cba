/** Errors raised while planning epochs, micro-batches and bootstrap samples. */

/** A planning argument is out of range; names the argument and the value. */
export class PlanError extends Error {
  override name = 'PlanError';
  constructor(
    readonly field: string,
    readonly value: unknown,
    requirement: string,
  ) {
    super(`\`${field}\` ${requirement}, got ${typeof value === 'object' ? JSON.stringify(value) : String(value)}`);
  }
}
