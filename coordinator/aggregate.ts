/**
 * Public entry of the gradient aggregation (the code lives in aggregate/, one concern per file):
 * ordered sum in micro-batch index order, mean over the true sample count, global-norm and value
 * clipping, and the NaN/Inf checks that let a step be skipped with its culprits named.
 */
export * from './aggregate/index.js';
