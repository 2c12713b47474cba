/**
 * A hyperparameter search on a real cluster (a coordinator and worker processes on loopback,
 * the bundled digits): trials over the pool, ASHA pruning, the best configuration retrained and
 * scored on the test split once, search.jsonl and the ranked summary. Trials differ in learning
 * rate, optimizer and dropout probability. The same search gives the
 * same trials, decisions and numbers with one worker or two, and after its coordinator is
 * killed with -9 mid-search and started again.
 */
import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCluster, startCluster, tinyJob } from '../cluster/harness.js';
import type { SearchSummary } from '../../coordinator/search/ranking.js';
import type { SearchStateFile } from '../../coordinator/search/search-state.js';

// 600 training samples in global batches of 60: 10 steps an epoch, 30 a trial, validation every 5.
const job = () =>
  tinyJob({
    model: { spec: { input: { name: 'x', shape: [784] }, layers: [{ type: 'dense', name: 'fc1', units: 32 }, { type: 'relu' }, { type: 'dropout', p: 0.1 }, { type: 'dense', name: 'fc2', units: 10 }], loss: 'cross-entropy' } },
    data: { source: 'digits', limit: 1000, split: { validation: 200, test: 200 } },
    batch: { global: 60, micro: 20 },
    epochs: 3,
    eval: { every: 5 },
    search: {
      method: 'bayesian',
      trials: 6,
      parallel: 2,
      startup_trials: 2,
      seed: 11,
      objective: { metric: 'val_accuracy' },
      // model.dropout: every trial runs the one compiled graph, with its own dropout probability.
      params: { 'optimizer.lr': { log_uniform: [0.002, 0.8] }, 'optimizer.kind': { choice: ['sgd', 'momentum'] }, 'model.dropout': { uniform: [0, 0.5] } },
      asha: { min_steps: 5, reduction_factor: 2, max_steps: 30 },
      retrain_best: true,
    },
  } as never);

const readJson = <T>(file: string) => JSON.parse(readFileSync(file, 'utf8')) as T;
const lines = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

/** What must not depend on the worker count or on restarts: every trial's hyperparameters, decisions and numbers. */
function outcome(runDir: string) {
  const s = readJson<SearchSummary>(join(runDir, 'search-summary.json'));
  return {
    ranked: s.ranked.map((t) => ({ trial: t.trial, params: t.params, state: t.state, value: t.value, best_step: t.best_step, steps: t.steps, rungs: t.rungs })),
    retrain: s.retrain,
    // Each trial's final weights, bit for bit.
    models: s.ranked.map((t) => readFileSync(join(runDir, t.dir, 'model.onnx')).toString('base64').length + ':' + hash(readFileSync(join(runDir, t.dir, 'model.onnx')))),
  };
}

function hash(b: Buffer): string {
  let h = 0x811c9dc5;
  for (const x of b) h = Math.imul(h ^ x, 0x01000193);
  return (h >>> 0).toString(16);
}

describe('hyperparameter search on a cluster', () => {
  let reference: ReturnType<typeof outcome> | undefined;

  it('runs a Bayesian search with ASHA over two worker processes and retrains the best configuration', async () => {
    const r = await runCluster({ job: job(), workers: 2, timeoutMs: 120_000 });
    expect(r.exitCode, r.coordinator.stderr.slice(-3000)).toBe(0);
    const s = readJson<SearchSummary>(join(r.runDir, 'search-summary.json'));
    expect(s.kind).toBe('search');
    expect(s.counts.trials).toBe(6);
    expect(s.counts.complete + s.counts.pruned).toBe(6);
    expect(s.counts.pruned).toBeGreaterThan(0);
    // Ranked: complete trials by validation accuracy, best first, then pruned ones.
    const complete = s.ranked.filter((t) => t.state === 'complete');
    expect(complete.map((t) => t.value)).toEqual([...complete.map((t) => t.value!)].sort((a, b) => b - a));
    expect(s.ranked.slice(0, complete.length).every((t) => t.state === 'complete')).toBe(true);
    expect(s.best!.trial).toBe(s.ranked[0]!.trial);
    for (const t of s.ranked) {
      expect(t.params['optimizer.lr']).toBeGreaterThanOrEqual(0.002);
      expect(t.params['optimizer.lr']).toBeLessThanOrEqual(0.8);
      // A pruned trial stopped at the rung that pruned it; a complete one ran all 30 steps.
      if (t.state === 'pruned') expect(t.steps).toBe(t.rungs.find((g) => g.decision === 'prune')!.step);
      else expect(t.steps).toBe(30);
      const metrics = lines(join(r.runDir, t.dir, 'metrics.jsonl'));
      // Trials never see the test split; the retraining scores it once.
      expect(metrics.filter((m) => m.type === 'eval' && m.split === 'test')).toEqual([]);
      expect(metrics.filter((m) => m.type === 'step')).toHaveLength(t.steps!);
    }
    const events = lines(join(r.runDir, 'search.jsonl'));
    expect(events.filter((e) => e.event === 'start').map((e) => e.trial)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(events.filter((e) => e.event === 'end')).toHaveLength(6);
    expect(events.filter((e) => e.event === 'rung' && e.decision === 'prune')).toHaveLength(s.counts.pruned);
    // The retraining: the best trial's settings on training + validation (800 samples), test scored once.
    expect(s.retrain).toMatchObject({ trial: s.best!.trial, state: 'done', dir: 'best' });
    expect(s.retrain!.test!.count).toBe(200);
    const retrain = lines(join(r.runDir, 'best', 'metrics.jsonl'));
    expect(retrain.filter((m) => m.type === 'eval').map((m) => m.split)).toEqual(['test']);
    expect(retrain.filter((m) => m.type === 'step').reduce((a, m) => a + (m.samples as number), 0)).toBe(800 * s.retrain!.epochs!);
    expect(s.model).toBe('best/model.onnx');
    expect(r.coordinator.stdout).toContain('tiny: bayesian search, 6 trials');
    expect(r.coordinator.stdout).toContain('rank  trial  state');
    reference = outcome(r.runDir);
  }, 150_000);

  it('finds the same trials, decisions and weights with one worker', async () => {
    expect(reference).toBeDefined();
    const r = await runCluster({ job: job(), workers: 1, timeoutMs: 150_000 });
    expect(r.exitCode).toBe(0);
    expect(outcome(r.runDir)).toEqual(reference);
  }, 180_000);

  it('resumes after the coordinator is killed with -9 mid-search, without rerunning finished trials, to the same result', async () => {
    expect(reference).toBeDefined();
    const c = await startCluster({ job: job(), workers: 2 });
    try {
      const stateFile = join(c.runDir, 'search-state.json');
      let before: SearchStateFile | undefined;
      for (const deadline = Date.now() + 90_000; ; ) {
        if (Date.now() > deadline) throw new Error(`no mid-search moment seen\n${c.output()}`);
        if (existsSync(stateFile)) {
          const s = readJson<SearchStateFile>(stateFile);
          if (s.trials.filter((t) => t.state !== 'running').length >= 2 && s.trials.some((t) => t.state === 'running')) {
            c.coordinator.kill('SIGKILL');
            before = s;
            break;
          }
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      await c.coordinatorExited();
      // What the state file held at the kill may be one event behind what it holds now.
      const atKill = readJson<SearchStateFile>(stateFile);
      const finished = atKill.trials.filter((t) => t.state !== 'running').map((t) => t.trial);
      expect(finished.length).toBeGreaterThanOrEqual(before!.trials.filter((t) => t.state !== 'running').length);
      await c.restartCoordinator();
      const r = await c.wait(150_000);
      expect(r.exitCode, c.output()).toBe(0);
      expect(outcome(c.runDir)).toEqual(reference);
      // Finished trials were not trained again: each started once, and their step records are not repeated.
      const events = lines(join(c.runDir, 'search.jsonl'));
      expect(events.filter((e) => e.event === 'start').map((e) => e.trial)).toEqual([0, 1, 2, 3, 4, 5]);
      for (const t of finished) expect(events.filter((e) => e.event === 'end' && e.trial === t)).toHaveLength(1);
    } finally {
      c.kill();
    }
  }, 200_000);
});
