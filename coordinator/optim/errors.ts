/** Errors raised by the optimizer math and the learning-rate schedules. */

/** Base of every optimizer/schedule error. */
export class OptimizerError extends Error {
  override name = 'OptimizerError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A configuration field holds a value the optimizer or schedule cannot use. */
export class OptimizerConfigError extends OptimizerError {
  override name = 'OptimizerConfigError';
  constructor(
    /** Dotted path of the field, e.g. `optimizer.momentum`. */
    readonly field: string,
    readonly value: unknown,
    /** What the field must be, e.g. `must be in [0, 1)`. */
    readonly requirement: string,
  ) {
    super(`\`${field}\` ${requirement}, got ${formatValue(value)}`);
  }
}

/** The params or gradients handed to `update` do not match the optimizer's ParamSpecs. */
export class ParamShapeError extends OptimizerError {
  override name = 'ParamShapeError';
}

/** A saved state cannot be loaded into this optimizer (other kind, other params, missing slots). */
export class OptimizerStateError extends OptimizerError {
  override name = 'OptimizerStateError';
}

function formatValue(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'number' || typeof v === 'boolean' || v === undefined || v === null) return String(v);
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}
