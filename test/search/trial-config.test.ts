/**
 * A trial's job config (coordinator/search/trial-config.ts) and the ranking of finished trials
 * (coordinator/search/ranking.ts): hyperparameters written at their paths and checked as a
 * whole job, paths a trial cannot change refused with the reason, and the ranked table.
 */
import { describe, it, expect, vi } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadJob, parseJob } from '../../coordinator/job/load.js';
import { COORDINATOR_EXIT, main } from '../../coordinator/cli.js';
import { checkSearchPaths, largestGlobalBatch, trialJob } from '../../coordinator/search/trial-config.js';
import { parseSearch } from '../../coordinator/search/space.js';
import { rankTrials, searchReportLines, searchSummary } from '../../coordinator/search/ranking.js';
import type { TrialRecord } from '../../coordinator/search/search-state.js';
import { tmpdir } from 'node:os';

const base = () => parseJob({ name: 'j', optimizer: { kind: 'adam', lr: 0.001 }, batch: { global: 128, micro: 32 } }, 'test');

describe('trial config', () => {
  it('writes each hyperparameter at its path and validates the result as a job', () => {
    const job = trialJob(base(), { 'optimizer.lr': 0.05, 'optimizer.kind': 'adamw', 'early_stopping.patience': 4, 'batch.global': 256 }, 'trial 0');
    expect(job.optimizer).toMatchObject({ kind: 'adamw', lr: 0.05 });
    // A block the base job lacks is created, with the job file's defaults for the rest.
    expect(job.early_stopping).toMatchObject({ patience: 4, monitor: 'val_loss' });
    expect(job.batch).toEqual({ global: 256, micro: 32 });
    expect(job.search).toBeUndefined();
    expect(() => trialJob(base(), { 'optimizer.lr': -1 }, 'trial 3')).toThrow(/trial 3[\s\S]*optimizer\.lr/);
    expect(() => trialJob(base(), { 'optimizer.kind': 'lbfgs' }, 'trial 4')).toThrow(/optimizer\.kind/);
  });

  it('refuses paths that would change the compiled graph, the data or the pool, naming each', () => {
    const search = parseSearch({ method: 'random', trials: 4, params: { 'model.spec': { choice: ['a', 'b'] }, 'batch.micro': { choice: [16, 32] }, 'data.limit': { int: [100, 200] }, 'optimizer.lr': { uniform: [0.1, 0.2] } } });
    let message = '';
    try {
      checkSearchPaths(search, 'job.yaml');
    } catch (e) {
      message = String((e as Error & { problems?: string[] }).problems ?? (e as Error).message);
    }
    expect(message).toContain('search.params.model.spec: the model is compiled once');
    expect(message).toContain("search.params.batch.micro: the micro-batch size sizes every worker's buffers");
    expect(message).toContain('search.params.data.limit: every trial trains and is validated on the same split');
    expect(message).not.toContain('optimizer.lr');
  });

  it('refuses model.dropout, set or searched, for a model without a dropout layer', async () => {
    const tiny = { data: { source: 'digits' as const, limit: 100 }, model: { spec: { input: { name: 'x', shape: [784] }, layers: [{ type: 'dense', units: 10 }], loss: 'cross-entropy' } } };
    await expect(loadJob(parseJob({ ...tiny, model: { ...tiny.model, dropout: 0.3 } }, 'a.yaml'), 'a.yaml', '.')).rejects.toThrow('model.dropout: the model has no dropout layer');
    await expect(loadJob(parseJob({ ...tiny, search: { method: 'random', trials: 2, params: { 'model.dropout': { uniform: [0, 0.5] } } } }, 'b.yaml'), 'b.yaml', '.')).rejects.toThrow('search.params.model.dropout: the model has no dropout layer');
  });

  it('refuses a job that is both a search and a bagging ensemble', () => {
    expect(() => parseJob({ ensemble: { members: 3 }, search: { method: 'random', trials: 2, params: { 'optimizer.lr': { uniform: [0.1, 0.2] } } } }, 'job.yaml')).toThrow(/search[\s\S]*either a search or a bagging ensemble/);
  });

  it('sizes the job for the largest global batch any trial may use', () => {
    expect(largestGlobalBatch(base(), parseSearch({ method: 'grid', params: { 'batch.global': { choice: [64, 512] } } }))).toBe(512);
    expect(largestGlobalBatch(base(), parseSearch({ method: 'random', trials: 2, params: { 'batch.global': { int: [32, 96], step: 32 } } }))).toBe(128);
    expect(largestGlobalBatch(base(), undefined)).toBe(128);
  });
});

describe('ranking of trials', () => {
  const t = (trial: number, state: TrialRecord['state'], value: number | undefined, rungs: TrialRecord['rungs'] = []): TrialRecord => ({ trial, params: { 'optimizer.lr': 0.01 * (trial + 1) }, state, value, rungs, dir: `trials/${trial}`, steps: 10, best_step: 5 });

  it('puts complete trials first by the objective, then pruned ones by how far they got, then failed ones', () => {
    const trials = [t(0, 'pruned', 0.95, [{ step: 5, value: 0.95, decision: 'prune' }]), t(1, 'complete', 0.8), t(2, 'failed', undefined), t(3, 'complete', 0.9), t(4, 'pruned', 0.5, [{ step: 5, value: 0.6, decision: 'continue' }, { step: 10, value: 0.5, decision: 'prune' }]), t(5, 'complete', 0.9)];
    expect(rankTrials(trials, { metric: 'val_accuracy', mode: 'max' }).map((x) => x.trial)).toEqual([3, 5, 1, 4, 0, 2]);
    expect(rankTrials(trials, { metric: 'val_loss', mode: 'min' }).map((x) => x.trial)).toEqual([1, 3, 5, 4, 0, 2]);
  });

  it('prints the ranked table with every searched parameter and the best configuration', () => {
    const search = parseSearch({ method: 'random', trials: 3, objective: { metric: 'val_accuracy' }, params: { 'optimizer.lr': { log_uniform: [0.001, 0.1] } } });
    const s = searchSummary('j', search, { search: 'x', trials: [t(0, 'complete', 0.81), t(1, 'complete', 0.87), t(2, 'pruned', 0.5, [{ step: 5, value: 0.5, decision: 'prune' }])] }, tmpdir());
    expect(s.best).toMatchObject({ trial: 1, value: 0.87 });
    expect(s.counts).toEqual({ trials: 3, complete: 2, pruned: 1, failed: 0, running: 0 });
    const lines = searchReportLines(s, tmpdir());
    expect(lines[0]).toBe('j: random search, 3 trials (2 complete, 1 pruned by ASHA, 0 failed), objective val_accuracy (max)');
    expect(lines[1]).toMatch(/^ {2}rank +trial +state +val_accuracy +at step +steps +optimizer\.lr$/);
    expect(lines[2]).toMatch(/^ {2}1 +1 +complete +0\.8700 +5 +10 +0\.02000$/);
    expect(lines.at(-1)).toBe('  best: trial 1, val_accuracy 0.8700: optimizer.lr=0.02000');
  });
});

describe('coordinator start --retrain-best', () => {
  it('turns on the retraining of a search job, and is a usage error (exit 2) for a job without search', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradfleet-retrain-'));
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      writeFileSync(join(dir, 'plain.json'), JSON.stringify({ name: 'plain' }));
      writeFileSync(join(dir, 'search.json'), JSON.stringify({ name: 's', search: { method: 'random', trials: 2, params: { 'optimizer.lr': { uniform: [0.1, 0.2] } } } }));
      const run = vi.fn(async (o: { job: { search?: { retrain_best: boolean } } }) => (expect(o.job.search?.retrain_best).toBe(true), COORDINATOR_EXIT.done));
      expect(await main(['node', 'coordinator', 'start', '--retrain-best', '--config', join(dir, 'search.json')], run as never)).toBe(COORDINATOR_EXIT.done);
      expect(run).toHaveBeenCalledTimes(1);
      const notRun = vi.fn(async () => COORDINATOR_EXIT.done);
      expect(await main(['node', 'coordinator', 'start', '--retrain-best', '--config', join(dir, 'plain.json')], notRun)).toBe(COORDINATOR_EXIT.cannotRun);
      expect(notRun).not.toHaveBeenCalled();
      expect(err.mock.calls.map(([s]) => String(s)).join('')).toContain('--retrain-best retrains the best trial of a search, but');
    } finally {
      err.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
