/** Default benchmark settings (cheap to import: the CLI reads them before loading any section). */
import os from 'node:os';
import type { BenchSettings } from './section.js';

export const DEFAULT_SETTINGS: BenchSettings = {
  runs: 5,
  warmup: 5,
  minRunSeconds: 0.5,
  // One thread is what a worker uses by default; all cores shows what the CPU can do.
  threads: [...new Set([1, os.availableParallelism()])],
  batch: 128,
};
