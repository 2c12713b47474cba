/** The single-process trainer: the whole job in one process over the compiled training graph. */
export { trainLocally, type LocalTrainResult } from './train.js';
export { resolveLocalOptions, LOCAL_DEFAULTS, type LocalTrainOptions, type ResolvedLocalOptions } from './options.js';
export type { LocalTrainEvent, EpochRecord, EvalMetrics } from './events.js';
export { progressPrinter, type ProgressPrinterOptions } from './progress.js';
export { bundledDigitsSplit, fitToModelInput } from './data.js';
export { evaluateSubset } from './evaluate.js';
export * from './errors.js';
