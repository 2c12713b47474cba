/** The coordinator's sample planning: epoch permutations, steps and micro-batches, cursor, bootstrap. */
export { PlanError } from './errors.js';
export { deriveSeed, SeedStream, type SeedStreamTag } from './seeds.js';
export { planEpoch, epochOrder, stepsPerEpoch, microbatchPositions, type EpochPlan, type StepPlan, type MicrobatchPlan } from './epoch.js';
export { START_CURSOR, advanceCursor, globalStepOf, cursorAt, restoreCursor, type PlanCursor } from './cursor.js';
export { bootstrapSample, type BootstrapSample } from './bootstrap.js';
