/** Learning-rate schedule values at chosen steps, computed by hand. */
import { describe, expect, it } from 'vitest';
import { OptimizerConfigError } from '../../../coordinator/optim/errors.js';
import { lrAt, lrSchedule } from '../../../coordinator/optim/schedules.js';
import type { LrScheduleConfig } from '../../../coordinator/optim/types.js';

function values(cfg: LrScheduleConfig, steps: number[]): number[] {
  const f = lrSchedule(cfg);
  return steps.map(f);
}

function expectClose(actual: number[], expected: number[]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => expect(a, `value ${i}`).toBeCloseTo(expected[i]!, 12));
}

describe('learning-rate schedules', () => {
  it('constant stays at lr', () => {
    expectClose(values({ kind: 'constant', lr: 0.1 }, [0, 1, 1000]), [0.1, 0.1, 0.1]);
  });

  it('step multiplies by γ every stepSize updates', () => {
    // stepSize 3, γ 0.5: 0.1 for 0..2, 0.05 for 3..5, 0.025 at 6, 0.1·0.5¹⁰ at 30
    const cfg: LrScheduleConfig = { kind: 'step', lr: 0.1, stepSize: 3, gamma: 0.5 };
    expectClose(values(cfg, [0, 2, 3, 5, 6, 30]), [0.1, 0.1, 0.05, 0.05, 0.025, 0.1 / 1024]);
  });

  it('cosine falls from lr to minLr over totalSteps and stays there', () => {
    // lr 0.1, minLr 0.01, T = 10: at s the value is 0.01 + 0.09·(1 + cos(π·s/10))/2
    //   s = 2: 0.01 + 0.045·(1 + cos(0.2π)) = 0.01 + 0.045·1.809017 = 0.09140576474687263
    //   s = 5: 0.01 + 0.045·(1 + 0) = 0.055
    const cfg: LrScheduleConfig = { kind: 'cosine', lr: 0.1, minLr: 0.01, totalSteps: 10 };
    expectClose(values(cfg, [0, 2, 5, 10, 25]), [0.1, 0.09140576474687263, 0.055, 0.01, 0.01]);
    expect(lrAt({ kind: 'cosine', lr: 1, totalSteps: 4 }, 4)).toBe(0);
  });

  it('linear warm-up ramps to the peak at step W − 1', () => {
    // W = 4: lr·(s + 1)/4 = 0.025, 0.05, 0.075, 0.1, then constant
    expectClose(values({ kind: 'constant', lr: 0.1, warmup: { steps: 4 } }, [0, 1, 2, 3, 4, 9]), [0.025, 0.05, 0.075, 0.1, 0.1, 0.1]);
    // startFactor 0.2: 0.1·(0.2 + 0.8·(s + 1)/4) = 0.04, 0.06, 0.08, 0.1
    expectClose(values({ kind: 'constant', lr: 0.1, warmup: { steps: 4, startFactor: 0.2 } }, [0, 1, 2, 3]), [0.04, 0.06, 0.08, 0.1]);
  });

  it('warm-up composes with cosine: the cosine clock starts after warm-up and ends at totalSteps', () => {
    // W = 2, T = 12: s = 0, 1 → 0.05, 0.1; s = 2 → u = 0 → 0.1; s = 7 → u = 5 of 10 → 0.055; s = 12 → 0.01
    const cfg: LrScheduleConfig = { kind: 'cosine', lr: 0.1, minLr: 0.01, totalSteps: 12, warmup: { steps: 2 } };
    expectClose(values(cfg, [0, 1, 2, 7, 12]), [0.05, 0.1, 0.1, 0.055, 0.01]);
  });

  it('warm-up composes with step decay', () => {
    // W = 2, stepSize 3, γ 0.1: 0.05, 0.1, then u = 0..2 → 0.1, u = 3 (s = 5) → 0.01
    const cfg: LrScheduleConfig = { kind: 'step', lr: 0.1, stepSize: 3, gamma: 0.1, warmup: { steps: 2 } };
    expectClose(values(cfg, [0, 1, 2, 4, 5, 8]), [0.05, 0.1, 0.1, 0.1, 0.01, 0.001]);
  });

  const bad: [LrScheduleConfig, RegExp][] = [
    [{ kind: 'constant', lr: -1 }, /`schedule.lr` must be > 0, got -1/],
    [{ kind: 'step', lr: 0.1, stepSize: 0, gamma: 0.5 }, /`schedule.stepSize` must be an integer ≥ 1, got 0/],
    [{ kind: 'step', lr: 0.1, stepSize: 2, gamma: 0 }, /`schedule.gamma` must be > 0, got 0/],
    [{ kind: 'cosine', lr: 0.1, totalSteps: 5, warmup: { steps: 5 } }, /`schedule.totalSteps` must be an integer > warmup.steps \(5\), got 5/],
    [{ kind: 'cosine', lr: 0.1, totalSteps: 5, minLr: 0.2 }, /`schedule.minLr` must be in \[0, lr = 0.1\], got 0.2/],
    [{ kind: 'constant', lr: 0.1, warmup: { steps: 1.5 } }, /`schedule.warmup.steps` must be an integer ≥ 0, got 1.5/],
  ];
  for (const [cfg, message] of bad) {
    it(`rejects ${JSON.stringify(cfg)}`, () => {
      expect(() => lrSchedule(cfg)).toThrow(OptimizerConfigError);
      expect(() => lrSchedule(cfg)).toThrow(message);
    });
  }

  it('rejects a negative or fractional step', () => {
    expect(() => lrAt({ kind: 'constant', lr: 0.1 }, -1)).toThrow(/`step` must be an integer ≥ 0, got -1/);
    expect(() => lrAt({ kind: 'constant', lr: 0.1 }, 0.5)).toThrow(OptimizerConfigError);
  });
});
