import { describe, it, expect } from 'vitest';
import { AshaPruner, rungSteps, type AshaDecision } from '../../coordinator/search/asha.js';
import { SearchStateError } from '../../coordinator/search/errors.js';

/** [trial, step, value, decision expected] */
type Row = [number, number, number, AshaDecision];

/**
 * η = 3, min_steps 1, max_steps 27: rungs at steps 1, 3, 9. At a rung holding n values (the
 * reporting trial's included) a trial goes on if fewer than max(1, ⌊n/3⌋) values beat it.
 */
const config = { min_steps: 1, reduction_factor: 3, max_steps: 27 };
const maxTable: Row[] = [
  [0, 1, 0.5, 'continue'], //   rung 1: n=1 keep 1, nothing better: alone, it goes on
  [1, 1, 0.4, 'prune'], //      n=2 keep 1, 0.5 better
  [2, 1, 0.6, 'continue'], //   n=3 keep 1, nothing better
  [3, 1, 0.55, 'prune'], //     n=4 keep 1, 0.6 better
  [0, 2, 0.1, 'continue'], //   step 2 is no rung: not judged, a bad value notwithstanding
  [4, 1, 0.58, 'prune'], //     n=5 keep 1, 0.6 better
  [5, 1, 0.57, 'prune'], //     n=6 keep 2, 0.6 and 0.58 better
  [6, 1, 0.59, 'continue'], //  n=7 keep 2, only 0.6 better
  [7, 1, 0.6, 'continue'], //   n=8 keep 2, a tie with the best is not beaten by it
  [8, 1, 0.1, 'prune'], //      n=9 keep 3, all 8 better
  [1, 2, 0.9, 'prune'], //      pruned trials stay pruned
  [0, 3, 0.7, 'continue'], //   rung 3: alone
  [2, 3, 0.65, 'prune'], //     n=2 keep 1, 0.7 better
  [6, 4, 0.8, 'continue'], //   n=3 keep 1, nothing better (judged at rung 3 though it reports at step 4)
  [0, 9, 0.72, 'continue'], //  rung 9: alone
  [0, 27, 0.1, 'continue'], //  max_steps is no rung: the trial has finished
  [9, 5, 0.3, 'prune'], //      new trial jumps rungs 1 and 3: rung 1 n=10 keep 3, 0.6, 0.6, 0.59, 0.58, … better
];

function decisions(pruner: AshaPruner, rows: readonly Row[]): AshaDecision[] {
  return rows.map(([trial, step, value]) => pruner.report(trial, step, value));
}

describe('ASHA', () => {
  it('puts rungs at min_steps·η^k below max_steps', () => {
    expect(rungSteps({ min_steps: 100, reduction_factor: 3, max_steps: 2700 })).toEqual([100, 300, 900]);
    expect(rungSteps({ min_steps: 100, reduction_factor: 3, max_steps: 2701 })).toEqual([100, 300, 900, 2700]);
    expect(rungSteps({ min_steps: 1, reduction_factor: 4, max_steps: 100 })).toEqual([1, 4, 16, 64]);
  });

  it('keeps the best max(1, ⌊n/η⌋) at each rung when larger is better', () => {
    expect(decisions(new AshaPruner(config, 'max'), maxTable)).toEqual(maxTable.map((r) => r[3]));
  });

  it('keeps the smallest values when smaller is better', () => {
    const minTable = maxTable.map(([t, s, v, d]): Row => [t, s, 1 - v, d]);
    expect(decisions(new AshaPruner(config, 'min'), minTable)).toEqual(minTable.map((r) => r[3]));
  });

  it('lets a lone trial go on past every rung', () => {
    const pruner = new AshaPruner(config, 'min');
    expect([1, 2, 3, 5, 9, 20, 27].map((step) => pruner.report(0, step, 100 - step))).toEqual(Array(7).fill('continue'));
  });

  it('judges a trial that skips rungs at each of them with the same value, stopping at the first it fails', () => {
    const pruner = new AshaPruner(config, 'min');
    pruner.report(0, 3, 1.0); // rungs 1 and 3: alone
    pruner.report(1, 3, 2.0); // rung 1: n=2 keep 1, 1.0 better: pruned there, never reaches rung 3
    expect(pruner.snapshot().rungs.map((r) => r.values)).toEqual([[[0, 1.0], [1, 2.0]], [[0, 1.0]], []]);
  });

  it('prunes a diverged trial at once and records its value nowhere', () => {
    const pruner = new AshaPruner(config, 'min');
    expect(pruner.report(0, 1, NaN)).toBe('prune');
    expect(pruner.report(1, 1, Infinity)).toBe('prune');
    expect(pruner.report(2, 1, 5)).toBe('continue');
    expect(pruner.snapshot()).toEqual({ rungs: [{ step: 1, values: [[2, 5]] }, { step: 3, values: [] }, { step: 9, values: [] }], pruned: [0, 1] });
  });

  it('decides after a restore from a JSON snapshot as it would have without one', () => {
    const whole = decisions(new AshaPruner(config, 'max'), maxTable);
    const first = new AshaPruner(config, 'max');
    const before = decisions(first, maxTable.slice(0, 9));
    const saved = JSON.parse(JSON.stringify(first.snapshot()));
    const after = decisions(AshaPruner.restore(config, 'max', saved), maxTable.slice(9));
    expect([...before, ...after]).toEqual(whole);
  });

  it('refuses a snapshot taken with other rungs', () => {
    const saved = new AshaPruner(config, 'max').snapshot();
    expect(() => AshaPruner.restore({ ...config, reduction_factor: 2 }, 'max', saved)).toThrow(SearchStateError);
    expect(() => AshaPruner.restore({ ...config, reduction_factor: 2 }, 'max', saved)).toThrow(/rungs at steps \[1, 3, 9\], but search\.asha gives \[1, 2, 4, 8, 16\]/);
  });
});
