/** Combining micro-batch gradients into one step's gradient: ordered sum, mean, clipping, NaN checks. */
export * from './errors.js';
export { OrderedSum, sumInOrder, meanFromSums } from './ordered-sum.js';
export { globalNorm, clipByGlobalNorm, clipByValue, type NormClipResult } from './clip.js';
export { findNonFinite, nonFiniteMicrobatches, isNonFinite, type NonFiniteLocation } from './non-finite.js';
export { reduceStep, type ClipConfig, type ReducedStep } from './reduce-step.js';
export { meanDivisor, headMeans, type NormalizedPart } from './divisor.js';
