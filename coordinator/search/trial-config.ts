/**
 * A trial's job config: the search job's config with the trial's hyperparameters written at their
 * dotted paths, validated again as a whole job (so a trial that sets `optimizer.kind: sgd` with
 * an Adam-only field is caught with the job file's own messages).
 *
 * Every trial runs on the job's one compiled training graph, which workers fetch once: a path
 * that would change that graph or the data (the model, the dataset, the micro-batch size, the
 * worker settings) cannot be searched yet, and is refused with the reason. The dropout
 * probability can (`model.dropout`): workers draw the masks with each run's own.
 */
import type { JobConfig } from '../job/schema.js';
import { parseJob } from '../job/load.js';
import type { ParamValue, SearchConfig } from './space.js';
import { SearchConfigError } from './errors.js';
import type { TrialParams } from './sampler.js';

/** Top-level fields a trial may change, and why the others cannot be. */
const SEARCHABLE = new Set(['optimizer', 'schedule', 'clip', 'early_stopping', 'epochs', 'max_steps', 'max_consecutive_skips']);
const NOT_SEARCHABLE: Record<string, string> = {
  model: 'the model is compiled once into the graph every worker runs; searching architectures (layer widths) needs one graph per trial, which is not supported yet (model.dropout can be searched: workers draw the masks)',
  data: 'every trial trains and is validated on the same split of the same data',
  workers: 'worker settings belong to the pool, which all trials share',
  eval: 'every trial is judged on the same evaluation schedule',
  checkpoint: 'checkpoint settings belong to the job',
  ensemble: 'a search job is not a bagging ensemble',
  search: 'the search cannot search itself',
  augment: "workers augment with the job's one augment block, which every trial shares",
  adversarial: "the job's adversarial block sets the graph every worker compiles (grad:<input>) and the attacks every trial is scored with",
  seed: "the job's seed fixes the initial weights every trial starts from",
  name: 'the job name is not a hyperparameter',
  run_dir: 'the run directory is not a hyperparameter',
};

/** Refuses paths a trial cannot change (see NOT_SEARCHABLE), naming the param. */
export function checkSearchPaths(search: SearchConfig, source: string): void {
  const problems: string[] = [];
  for (const p of search.params) {
    const top = p.path.split('.')[0]!;
    if (p.path === 'model.dropout') continue;
    if (p.path === 'batch.micro') problems.push(`search.params.${p.path}: the micro-batch size sizes every worker's buffers; it cannot change between trials`);
    else if (top === 'batch' && p.path !== 'batch.global') problems.push(`search.params.${p.path}: only batch.global can be searched`);
    else if (top !== 'batch' && !SEARCHABLE.has(top)) problems.push(`search.params.${p.path}: ${NOT_SEARCHABLE[top] ?? `'${top}' is not a field of the job file`}`);
  }
  if (problems.length > 0) throw new SearchConfigError(source, problems);
}

/** The trial's job: `base` with `params` set, checked as a whole job file. */
export function trialJob(base: JobConfig, params: TrialParams, label: string): JobConfig {
  const job = JSON.parse(JSON.stringify(base)) as Record<string, unknown>;
  delete job.search;
  for (const [path, value] of Object.entries(params)) setPath(job, path, value);
  return parseJob(job, label);
}

function setPath(root: Record<string, unknown>, path: string, value: ParamValue): void {
  const keys = path.split('.');
  let node = root;
  for (const k of keys.slice(0, -1)) {
    const next = node[k];
    if (next === undefined || next === null) node = node[k] = {};
    else if (typeof next === 'object' && !Array.isArray(next)) node = next as Record<string, unknown>;
    else throw new SearchConfigError('search', [`search.params.${path}: '${k}' holds ${JSON.stringify(next)}, not a mapping to set '${keys.at(-1)}' in`]);
  }
  node[keys.at(-1)!] = value;
}

/**
 * The largest global batch any trial may use: workers size their buffers by the micro-batches
 * of a step, so the job's package is made for the largest.
 */
export function largestGlobalBatch(base: JobConfig, search: SearchConfig | undefined): number {
  const p = search?.params.find((q) => q.path === 'batch.global');
  if (!p) return base.batch.global;
  if (p.kind === 'choice') return Math.max(base.batch.global, ...p.values.filter((v): v is number => typeof v === 'number'));
  return Math.max(base.batch.global, Math.ceil(p.high));
}
