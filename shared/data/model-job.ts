/**
 * The job whose data scores a trained model (`gradfleet quantize`, `gradfleet eval`): the run
 * directory's job (job-identity.json keeps its config), or a job file named with --config; and
 * the split of that job's data the model is scored on.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseJob, readJobFile } from '../../coordinator/job/load.js';
import type { JobConfig } from '../../coordinator/job/schema.js';
import { prepareJobData, type JobData } from './job-dataset.js';

export interface ModelJobOptions {
  /** The model file (a run directory's model.onnx, or any inference model with configFile). */
  modelFile: string;
  /** The run directory the model belongs to (default: the model file's folder). */
  runDir?: string;
  /** A job file, instead of the run directory's job. */
  configFile?: string;
}

/** The run directory's job (job-identity.json keeps its config), or --config. */
export function jobOfModel(o: ModelJobOptions): { config: JobConfig; baseDir: string } {
  if (o.configFile) {
    const { config, baseDir } = readJobFile(o.configFile);
    return { config, baseDir };
  }
  const identity = o.runDir ? join(o.runDir, 'job-identity.json') : join(dirname(o.modelFile), 'job-identity.json');
  if (!existsSync(identity) || !statSync(identity).isFile()) throw new Error(`${o.modelFile}: no run directory job (job-identity.json) next to it; name the job file with --config`);
  const saved = JSON.parse(readFileSync(identity, 'utf8')) as { config?: unknown };
  if (!saved.config) throw new Error(`${identity} holds no job config (written before it kept one); name the job file with --config`);
  return { config: parseJob(saved.config, identity), baseDir: process.cwd() };
}

/** The job's data and the indices of `split` in it; throws when the job has no such split. */
export async function scoringSplit(o: ModelJobOptions, split: 'test' | 'validation', what = 'the model'): Promise<{ config: JobConfig; data: JobData; indices: Uint32Array }> {
  const { config, baseDir } = jobOfModel(o);
  const data = await prepareJobData(config.data, { baseDir }, config.seed);
  const indices = split === 'test' ? data.testIndices : data.validationIndices;
  if (indices.length === 0) throw new Error(`the job has no ${split} split to score ${what} on`);
  return { config, data, indices };
}
