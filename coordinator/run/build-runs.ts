/**
 * A job's runs: one TrainingRun for a plain job. (Bagging members and search trials are more
 * runs over the same pool; each gets its own index sets, seed and run directory.)
 */
import type { Logger } from '../../shared/log.js';
import { encodeModel } from '../../shared/onnx/model.js';
import { exportInference } from '../../shared/autodiff/export.js';
import type { LoadedJob } from '../job/load.js';
import { TrainingRun } from './training-run.js';
import type { RunDirectory } from './outputs.js';

export interface RunContext {
  out: RunDirectory;
  log: Logger;
  /** Worker registrations so far, for summary.json. */
  workers: () => { registrations: number; connected: number };
  now: () => number;
}

export function buildRuns(job: LoadedJob, ctx: RunContext): TrainingRun[] {
  const c = job.config;
  const started = new Date().toISOString();
  return [
    new TrainingRun({
      id: 0,
      name: c.name,
      job: c,
      params: job.training.params,
      buffers: job.training.buffers,
      trainIndices: job.trainIndices,
      validationIndices: job.validationIndices,
      testIndices: job.testIndices,
      seed: c.seed,
      out: ctx.out,
      log: ctx.log,
      now: ctx.now,
      exportModel: (params, buffers) => encodeModel(exportInference(job.forward, params, buffers)),
      summaryExtras: () => {
        const w = ctx.workers();
        return { job: c.name, source: job.source, started_at: started, worker_registrations: w.registrations, workers_connected_at_end: w.connected };
      },
    }),
  ];
}
