/** Turning a step's summed gradient into what the optimizer applies: mean, NaN checks, clipping; and the divisor of the mean. */
export * from './errors.js';
export { isNonFinite, type NonFiniteLocation } from './non-finite.js';
export { reduceGradient, type ClipConfig, type ReducedStep } from './reduce-step.js';
export { meanDivisor, headMeans, type NormalizedPart } from './divisor.js';
export { averageBuffers } from './buffers.js';
