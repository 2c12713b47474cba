/** The coordinator's optimizer math: optimizers behind a registry, and learning-rate schedules. */
export * from './types.js';
export * from './errors.js';
export { createOptimizer } from './registry.js';
export { resolveOptimizerConfig, OPTIMIZER_KINDS, type ResolvedOptimizerConfig } from './config.js';
export { lrSchedule, lrAt, type LrSchedule } from './schedules.js';
