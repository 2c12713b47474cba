import { describe, it, expect } from 'vitest';
import { defaultStartupTrials, parseSearch, type SearchConfig } from '../../coordinator/search/space.js';
import { createSampler, type Sampler, type TrialParams, type TrialResult } from '../../coordinator/search/sampler.js';
import { RandomSampler } from '../../coordinator/search/random.js';
import { splitGoodBad, TpeSampler } from '../../coordinator/search/tpe.js';
import { branin, quadratic, bestFound, type TestFunction } from './test-functions.js';

const space = {
  'optimizer.lr': { log_uniform: [1e-4, 1e-1] },
  'optimizer.weight_decay': { uniform: [0, 0.01] },
  'batch.global': { choice: [64, 128, 256] },
  hidden: { int: [32, 256], step: 32 },
  layers: { int: [1, 64], log: true },
  'optimizer.kind': { choice: ['adam', 'adamw', 'sgd'] },
};
const block = (method: 'random' | 'bayesian', trials = 200): SearchConfig => parseSearch({ method, trials, params: space, seed: 7 });

/** A made-up objective over `space`, so TPE has something to learn from. */
function fakeLoss(p: TrialParams): number {
  return Math.abs(Math.log10(p['optimizer.lr'] as number) + 2.5) + (p['optimizer.kind'] === 'sgd' ? 0.5 : 0) + (p['hidden'] as number) / 1000;
}

/** Trials proposed one after another, each completed with fakeLoss before the next. */
function run(sampler: Sampler, trials: number): TrialParams[] {
  const history: TrialResult[] = [];
  for (let trial = 0; trial < trials; trial++) {
    const params = sampler.propose(trial, history)!;
    history.push({ trial, params, state: 'complete', value: fakeLoss(params) });
  }
  return history.map((r) => r.params);
}

describe.each(['random', 'bayesian'] as const)('%s search', (method) => {
  it('proposes the same trials for the same seed and other trials for another seed', () => {
    const a = run(createSampler(block(method), 1), 30);
    expect(run(createSampler(block(method), 1), 30)).toEqual(a);
    expect(run(createSampler({ ...block(method), seed: 8 }, 1), 30)).not.toEqual(a);
  });

  it('proposes for a trial number what it proposed in sequence, when asked alone with the same history (resume)', () => {
    const sequence = run(createSampler(block(method), 1), 25);
    const history = sequence.slice(0, 24).map((params, trial) => ({ trial, params, state: 'complete' as const, value: fakeLoss(params) }));
    expect(createSampler(block(method), 1).propose(24, history)).toEqual(sequence[24]);
  });

  it('keeps every value in its range, ints on their step grid', () => {
    for (const p of run(createSampler(block(method), 1), 150)) {
      const lr = p['optimizer.lr'] as number;
      const wd = p['optimizer.weight_decay'] as number;
      const hidden = p['hidden'] as number;
      const layers = p['layers'] as number;
      expect(lr >= 1e-4 && lr <= 1e-1).toBe(true);
      expect(wd >= 0 && wd <= 0.01).toBe(true);
      expect([64, 128, 256]).toContain(p['batch.global']);
      expect(['adam', 'adamw', 'sgd']).toContain(p['optimizer.kind']);
      expect(hidden >= 32 && hidden <= 256 && (hidden - 32) % 32 === 0).toBe(true);
      expect(Number.isInteger(layers) && layers >= 1 && layers <= 64).toBe(true);
    }
  });
});

describe('random search', () => {
  const draws = run(new RandomSampler(block('random').params, 3), 3000);

  it('draws log-uniform values evenly per decade', () => {
    const decades = [0, 0, 0];
    for (const p of draws) decades[Math.floor(Math.log10(p['optimizer.lr'] as number) + 4)]! += 1;
    for (const n of decades) expect(Math.abs(n / draws.length - 1 / 3)).toBeLessThan(0.04);
  });

  it('draws every allowed integer and every choice about equally often', () => {
    const hidden = new Map<number, number>();
    for (const p of draws) hidden.set(p['hidden'] as number, (hidden.get(p['hidden'] as number) ?? 0) + 1);
    expect([...hidden.keys()].sort((a, b) => a - b)).toEqual([32, 64, 96, 128, 160, 192, 224, 256]);
    for (const n of hidden.values()) expect(Math.abs(n / draws.length - 1 / 8)).toBeLessThan(0.03);
    const kinds = draws.filter((p) => p['optimizer.kind'] === 'sgd').length;
    expect(Math.abs(kinds / draws.length - 1 / 3)).toBeLessThan(0.04);
  });
});

describe('bayesian search (TPE)', () => {
  const objective = { metric: 'val_loss', mode: 'min' } as const;
  const done = (trial: number, value: number, state: TrialResult['state'] = 'complete'): TrialResult => ({ trial, params: { x: trial }, state, value });

  it('calls the best quarter of finished results good, and pruned or diverged results always bad', () => {
    const history = [done(0, 5), done(1, 1), done(2, 0.5, 'pruned'), done(3, 3), done(4, NaN), done(5, 2), done(6, 0.1, 'failed'), done(7, 0.1, 'running'), done(8, 4)];
    const { good, bad } = splitGoodBad(history, objective, 0.25);
    // 7 finished: ⌈0.25·7⌉ = 2 good, from the complete ones only.
    expect(good.map((r) => r.trial)).toEqual([1, 5]);
    expect(bad.map((r) => r.trial)).toEqual([0, 2, 3, 4, 8]);
    expect(splitGoodBad(history, { metric: 'val_accuracy', mode: 'max' }, 0.25).good.map((r) => r.trial)).toEqual([0, 8]);
  });

  it('starts exactly as random search with the same seed does', () => {
    const tpe = run(createSampler(block('bayesian', 20), 1), 5);
    expect(tpe).toEqual(run(new RandomSampler(block('random').params, 7), 5));
  });

  it('proposes the same trial whatever order the history is in, and ignores running and failed trials', () => {
    const sampler = createSampler(block('bayesian'), 1);
    const history: TrialResult[] = run(sampler, 20).map((params, trial) => ({ trial, params, state: 'complete', value: fakeLoss(params) }));
    const noisy: TrialResult[] = [
      ...[...history].reverse(),
      { trial: 20, params: history[3]!.params, state: 'running' },
      { trial: 21, params: history[4]!.params, state: 'failed', value: -100 },
    ];
    expect(sampler.propose(22, noisy)).toEqual(sampler.propose(22, history));
  });

  it('maximising a metric proposes what minimising its negation does', () => {
    const params = block('bayesian').params;
    const history = run(createSampler(block('bayesian'), 1), 20).map((p, trial) => ({ trial, params: p, value: fakeLoss(p) }));
    const min = new TpeSampler(params, { metric: 'val_loss', mode: 'min' }, 7, { startupTrials: 5 });
    const max = new TpeSampler(params, { metric: 'val_accuracy', mode: 'max' }, 7, { startupTrials: 5 });
    const asMin = history.map((r) => ({ ...r, state: 'complete' as const }));
    const asMax = history.map((r) => ({ ...r, state: 'complete' as const, value: -r.value }));
    expect(max.propose(20, asMax)).toEqual(min.propose(20, asMin));
  });

  /**
   * Mean regret (best found − minimum) over 40 seeds, 60 trials each, the first 10 random.
   * Calibrated on other seeds (5000–7399, in 60 disjoint blocks of 40): TPE/random was 0.25 on
   * Branin overall, median block 0.22, one block in 60 above 0.6 (univariate TPE sometimes locks
   * onto one of Branin's valleys away from all three minima, and one such seed weighs on a mean);
   * on the quadratic 0.09, no block above 0.24 (60 blocks of 30). Seeds 1–40 give 0.35 and 0.06.
   */
  it.each([
    ['Branin', branin, 0.6],
    ['a 2-D quadratic', quadratic, 0.35],
  ] as [string, TestFunction, number][])('finds lower values than random search on %s', (_, fn, bound) => {
    let randomRegret = 0;
    let tpeRegret = 0;
    for (let seed = 1; seed <= 40; seed++) {
      randomRegret += bestFound(new RandomSampler(fn.params, seed), fn, 60) - fn.minimum;
      tpeRegret += bestFound(new TpeSampler(fn.params, { metric: 'val_loss', mode: 'min' }, seed, { startupTrials: defaultStartupTrials(60) }), fn, 60) - fn.minimum;
    }
    expect(tpeRegret / randomRegret).toBeLessThan(bound);
  });
});
