/** Errors of the single-process trainer (coordinator/local). */

/** Base of every error the local trainer raises itself (others pass through with their own types). */
export class LocalTrainError extends Error {
  override name = 'LocalTrainError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** An option of trainLocally holds a value it cannot use; names the option and the value. */
export class LocalOptionError extends LocalTrainError {
  override name = 'LocalOptionError';
  constructor(
    readonly option: string,
    readonly value: unknown,
    readonly requirement: string,
  ) {
    super(`\`${option}\` ${requirement}, got ${typeof value === 'object' ? JSON.stringify(value) : String(value)}`);
  }
}

/** Too many steps in a row had a non-finite gradient: training stops instead of spinning. */
export class DivergedError extends LocalTrainError {
  override name = 'DivergedError';
  constructor(
    readonly consecutiveSkips: number,
    readonly step: number,
    readonly firstBad: string,
  ) {
    super(`${consecutiveSkips} consecutive steps had non-finite gradients (last at step ${step}: ${firstBad}); stopping. Lower the learning rate or clip the gradient norm`);
  }
}
