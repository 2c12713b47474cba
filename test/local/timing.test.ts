/** The bench's statistics: medians, ranges, throughput. */
import { describe, it, expect } from 'vitest';
import { summarize, throughput, timeIterations } from '../../bench/timing.js';

describe('bench timing', () => {
  it('takes the median of an odd and of an even number of runs', () => {
    expect(summarize([3, 1, 2], 1)).toMatchObject({ median: 2, min: 1, max: 3 });
    expect(summarize([4, 1, 3, 2], 1)).toMatchObject({ median: 2.5, min: 1, max: 4 });
  });

  it('turns seconds per iteration into items per second, slowest run first', () => {
    expect(throughput(summarize([0.5, 0.25, 1], 1), 100)).toEqual({ value: 200, range: [100, 400] });
  });

  it('runs warm-up, one probe, then enough iterations per run to fill the minimum run time', async () => {
    // A fake clock: every call of the work takes exactly 2 ms, whatever else loads the machine.
    let clock = 0;
    let calls = 0;
    const t = await timeIterations(
      () => {
        calls++;
        clock += 2;
      },
      { warmup: 2, runs: 3, minRunSeconds: 0.009, now: () => clock },
    );
    expect(t.iterations).toBe(5); // ⌈9 ms / 2 ms⌉
    expect(calls).toBe(2 + 1 + 3 * 5);
    expect(t.perIteration).toEqual([0.002, 0.002, 0.002]);
    expect(t.median).toBe(0.002);
  });

  it('times a real workload with the real clock', async () => {
    const t = await timeIterations(() => {
      const until = performance.now() + 2;
      while (performance.now() < until);
    }, { warmup: 1, runs: 3, minRunSeconds: 0.01 });
    expect(t.iterations).toBeGreaterThanOrEqual(1);
    expect(t.min).toBeGreaterThanOrEqual(0.002);
  });
});
