import { describe, it, expect } from 'vitest';
import { decideEarlyStop, initialEarlyStopping, type EarlyStoppingConfig } from '../../coordinator/run/early-stopping.js';

function replay(cfg: EarlyStoppingConfig, values: number[]) {
  let state = initialEarlyStopping();
  const out: string[] = [];
  values.forEach((v, i) => {
    const d = decideEarlyStop(cfg, state, v, (i + 1) * 10);
    state = d.state;
    out.push(d.stop ? 'stop' : d.improved ? 'best' : '-');
  });
  return { out, state };
}

describe('early stopping', () => {
  const base: EarlyStoppingConfig = { monitor: 'val_loss', mode: 'min', patience: 2, min_delta: 0.01, restore_best: true };
  it.each([
    ['improves, then plateaus for `patience` evaluations', base, [1.0, 0.8, 0.795, 0.79, 0.7], ['best', 'best', '-', 'stop', 'best']],
    ['counts only improvements larger than min_delta', { ...base, patience: 3 }, [1.0, 0.995, 0.992, 0.991], ['best', '-', '-', 'stop']],
    ['maximises accuracy in max mode', { ...base, monitor: 'val_accuracy', mode: 'max', min_delta: 0 } as EarlyStoppingConfig, [0.5, 0.6, 0.6, 0.55], ['best', 'best', '-', 'stop']],
    ['stops at the first non-improvement with patience 0', { ...base, patience: 0 }, [1.0, 1.0], ['best', 'stop']],
    ['never takes NaN as an improvement', base, [1.0, NaN, NaN], ['best', '-', 'stop']],
  ] as const)('%s', (_label, cfg, values, expected) => {
    expect(replay(cfg, [...values]).out.slice(0, expected.length)).toEqual(expected);
  });

  it('remembers the best value and step, and says why it stopped', () => {
    let state = initialEarlyStopping();
    state = decideEarlyStop(base, state, 0.5, 100).state;
    const d1 = decideEarlyStop(base, state, 0.6, 200);
    const d2 = decideEarlyStop(base, d1.state, 0.7, 300);
    expect(d2.state).toMatchObject({ best: 0.5, bestStep: 100, bad: 2 });
    expect(d2.reason).toMatch(/val_loss did not improve by more than 0.01 for 2 evaluations \(best 0.5 at step 100\)/);
  });
});
