/**
 * A job's runs. A plain job is one TrainingRun. A job with `ensemble:` is K TrainingRuns, the
 * bagging members, all over the one worker pool: member k trains on its own bootstrap sample of
 * the training set (ensemble-plan.ts), with its own seed, optimizer state and early stopping, and
 * writes its own run directory `<run>/members/<k>/` (metrics, summary, model, checkpoints); the
 * job's directory gets the ensemble model and the job summary (ensemble.ts). Members start from
 * the job's initial weights, or with `ensemble.init: per_member` from weights drawn with their
 * own seed (ensemble-init.ts).
 */
import { join } from 'node:path';
import type { Logger } from '../../shared/log.js';
import { encodeModel } from '../../shared/onnx/model.js';
import { exportInference } from '../../shared/autodiff/export.js';
import type { LoadedJob } from '../job/load.js';
import type { Arena } from '../../shared/kernels/index.js';
import type { TransferCounts } from '../dispatch/transfer-meter.js';
import { TrainingRun, type RunSetup } from './training-run.js';
import { RunDirectory } from './outputs.js';
import { planMembers } from './ensemble-plan.js';
import { Ensemble, memberDir } from './ensemble.js';
import { EnsembleError } from './ensemble-errors.js';
import { initialValuesDrawer } from './ensemble-init.js';

export interface RunContext {
  out: RunDirectory;
  /** The coordinator's arena: every run's parameters, optimizer state and gradient pieces. */
  arena: Arena;
  log: Logger;
  /** Worker registrations so far, for summary.json. */
  workers: () => { registrations: number; connected: number };
  /** Tensor bytes in and out so far, for summary.json (dispatch/transfer-meter.ts). */
  transfer?: () => TransferCounts;
  now: () => number;
  /**
   * Work that finishes a job after its last run is done (an ensemble's evaluation on the
   * coordinator). The coordinator awaits every promise it receives, with a deadline, before it
   * writes its last lines and exits; without this hook the work may be cut short.
   */
  defer?: (what: string, work: Promise<unknown>) => void;
  /** Every metric line of a bagging member's own directory (the job's /metrics listens). */
  onMemberMetric?: (line: Record<string, unknown>) => void;
}

export function buildRuns(job: LoadedJob, ctx: RunContext): TrainingRun[] {
  return job.config.ensemble ? buildEnsemble(job, ctx).members : [plainRun(job, ctx)];
}

function plainRun(job: LoadedJob, ctx: RunContext): TrainingRun {
  const c = job.config;
  const started = new Date().toISOString();
  return new TrainingRun({
    ...runBasics(job, ctx),
    id: 0,
    name: c.name,
    trainIndices: job.trainIndices,
    seed: c.seed,
    out: ctx.out,
    startedAt: started,
    summaryExtras: () => {
      const w = ctx.workers();
      return { job: c.name, source: job.source, worker_registrations: w.registrations, workers_connected_at_end: w.connected, ...(ctx.transfer ? { transfer: ctx.transfer() } : {}) };
    },
  });
}

/** The bagging members of a job with `ensemble:`, and the ensemble that waits for them. */
export function buildEnsemble(job: LoadedJob, ctx: RunContext): Ensemble {
  const c = job.config;
  const e = c.ensemble;
  if (!e) throw new EnsembleError(`job '${c.name}' has no ensemble section`);
  const notClassification = job.heads.find((h) => h.loss !== 'cross-entropy');
  if (e.predict === 'vote' && notClassification) throw new EnsembleError(`ensemble.predict 'vote' needs classification (cross-entropy) heads; head '${notClassification.name}' has a ${notClassification.loss} loss (use predict: average)`);
  const seed = e.seed ?? c.seed;
  const started = new Date().toISOString();
  const toModel = (run: TrainingRun) => exportInference(job.forward, byName(job.training.params, run.params), byName(job.training.buffers, run.buffers));
  // The job's model was initialised with the job's seed (coordinator/job/load.ts).
  const plans = planMembers(job.trainIndices, { members: e.members, sampleFraction: e.sample_fraction, seed, init: e.init, jobInitSeed: c.seed });
  const draw = e.init === 'per_member' ? initialValuesDrawer(job) : undefined;
  ctx.log.info({ members: e.members, sample_fraction: e.sample_fraction, seed, predict: e.predict, init: e.init, init_seeds: plans.map((p) => p.initSeed), training_samples: job.trainIndices.length }, 'bagging ensemble');
  return new Ensemble(
    {
      job: c.name,
      config: e,
      seed,
      plans,
      memberModel: toModel,
      heads: job.heads,
      dataset: job.dataset,
      validationIndices: job.validationIndices,
      testIndices: job.testIndices,
      evalBatch: c.eval.batch,
      out: ctx.out,
      log: ctx.log,
      now: ctx.now,
      defer: ctx.defer,
      summaryExtras: () => {
        const w = ctx.workers();
        return { source: job.source, worker_registrations: w.registrations, workers_connected_at_end: w.connected, ...(ctx.transfer ? { transfer: ctx.transfer() } : {}) };
      },
    },
    (plan, onFinished) =>
      new TrainingRun({
        ...runBasics(job, ctx),
        ...(draw ? draw(plan.initSeed) : {}),
        id: plan.member,
        name: `member-${plan.member}`,
        trainIndices: plan.trainIndices,
        outOfBagIndices: plan.outOfBagIndices,
        seed: plan.seed,
        out: new RunDirectory(join(ctx.out.dir, memberDir(plan.member)), { onMetric: ctx.onMemberMetric }),
        log: ctx.log.child({ member: plan.member }),
        onFinished,
        startedAt: started,
        summaryExtras: () => ({ job: c.name, member: plan.member, seed: plan.seed, init: e.init, init_seed: plan.initSeed, bootstrap: { samples: plan.trainIndices.length, distinct: plan.distinct, out_of_bag: plan.outOfBagIndices.length } }),
      }),
  );
}

/** What every run of a job shares. */
export function runBasics(job: LoadedJob, ctx: RunContext): Pick<RunSetup, 'job' | 'arena' | 'params' | 'buffers' | 'validationIndices' | 'testIndices' | 'log' | 'now' | 'exportModel'> {
  return {
    job: job.config,
    arena: ctx.arena,
    params: job.training.params,
    buffers: job.training.buffers,
    validationIndices: job.validationIndices,
    testIndices: job.testIndices,
    log: ctx.log,
    now: ctx.now,
    exportModel: (params, buffers) => encodeModel(exportInference(job.forward, params, buffers)),
  };
}

function byName(infos: readonly { name: string }[], values: readonly Float32Array[]): Map<string, Float32Array> {
  return new Map(infos.map((p, i) => [p.name, values[i]!]));
}
