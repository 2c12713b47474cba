import { describe, it, expect } from 'vitest';
import { parseSearch } from '../../coordinator/search/space.js';
import { createSampler, type TrialParams } from '../../coordinator/search/sampler.js';
import { GridSampler } from '../../coordinator/search/grid.js';

function proposeAll(sampler: { propose(trial: number, history: []): TrialParams | undefined }, limit = 1000): TrialParams[] {
  const out: TrialParams[] = [];
  for (let trial = 0; trial < limit; trial++) {
    const p = sampler.propose(trial, []);
    if (p === undefined) break;
    out.push(p);
  }
  return out;
}

describe('grid search', () => {
  const config = parseSearch({
    method: 'grid',
    params: {
      'optimizer.kind': { choice: ['adam', 'sgd'] },
      'batch.global': { choice: [64, 128, 256] },
      hidden: { int: [32, 100], step: 32 },
      'optimizer.decay_biases': { choice: [true, false] },
    },
  });

  it('proposes every point of the cartesian product exactly once, then nothing', () => {
    const points = proposeAll(createSampler(config, 1));
    expect(points).toHaveLength(2 * 3 * 3 * 2);
    const keys = points.map((p) => JSON.stringify(p));
    expect(new Set(keys).size).toBe(points.length);
    const expected = new Set<string>();
    for (const kind of ['adam', 'sgd'])
      for (const global of [64, 128, 256])
        for (const hidden of [32, 64, 96])
          for (const bias of [true, false]) expected.add(JSON.stringify({ 'optimizer.kind': kind, 'batch.global': global, hidden, 'optimizer.decay_biases': bias }));
    expect(new Set(keys)).toEqual(expected);
    expect(createSampler(config, 1).propose(36, [])).toBeUndefined();
  });

  it('varies the first param slowest and the last fastest, values in listed order', () => {
    const grid = new GridSampler(parseSearch({ method: 'grid', params: { a: { choice: ['x', 'y'] }, b: { int: [1, 6], step: 2 } } }).params);
    expect(proposeAll(grid)).toEqual([
      { a: 'x', b: 1 },
      { a: 'x', b: 3 },
      { a: 'x', b: 5 },
      { a: 'y', b: 1 },
      { a: 'y', b: 3 },
      { a: 'y', b: 5 },
    ]);
  });

  it('gives the same point for a trial number whatever the seed, order of asking or history', () => {
    const a = createSampler(config, 1);
    const b = createSampler(config, 99);
    const history = [{ trial: 0, params: a.propose(0, [])!, state: 'complete' as const, value: 0.3 }];
    expect(b.propose(17, history)).toEqual(a.propose(17, []));
    expect(a.propose(5, [])).toEqual(proposeAll(createSampler(config, 1))[5]);
  });

  it('walks a log int range through every integer', () => {
    const grid = new GridSampler(parseSearch({ method: 'grid', params: { layers: { int: [1, 4], log: true } } }).params);
    expect(proposeAll(grid).map((p) => p['layers'])).toEqual([1, 2, 3, 4]);
  });
});
