/**
 * Repeated timing: warm-up iterations first (untimed), then `runs` timed runs, each repeating the
 * work enough times to last at least `minRunSeconds`, so that timer resolution and one-off
 * stalls weigh little. The median of the runs is the figure; min and max show the spread.
 */

export interface Timing {
  /** Seconds per iteration, one entry per timed run. */
  perIteration: number[];
  median: number;
  min: number;
  max: number;
  /** Iterations in each timed run. */
  iterations: number;
}

export interface TimingOptions {
  warmup: number;
  runs: number;
  minRunSeconds: number;
  /** Milliseconds from a monotonic clock (default performance.now; tests pass a fake one). */
  now?: () => number;
}

/** Times `work` (one iteration per call). */
export async function timeIterations(work: () => unknown, opts: TimingOptions): Promise<Timing> {
  const now = opts.now ?? (() => performance.now());
  for (let i = 0; i < opts.warmup; i++) await work();
  // One timed probe decides how many iterations fill a run.
  const probeStart = now();
  await work();
  const probe = Math.max((now() - probeStart) / 1000, 1e-6);
  const iterations = Math.max(1, Math.ceil(opts.minRunSeconds / probe));
  const perIteration: number[] = [];
  for (let r = 0; r < opts.runs; r++) {
    const start = now();
    for (let i = 0; i < iterations; i++) await work();
    perIteration.push((now() - start) / 1000 / iterations);
  }
  return summarize(perIteration, iterations);
}

/** Median, min and max of per-iteration times. */
export function summarize(perIteration: number[], iterations: number): Timing {
  if (perIteration.length === 0) throw new Error('no timed runs to summarize');
  const sorted = [...perIteration].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { perIteration, median, min: sorted[0]!, max: sorted[sorted.length - 1]!, iterations };
}

/** A time per iteration as a throughput of `items` per iteration (the range flips: the slowest run is the lowest rate). */
export function throughput(t: Timing, items: number): { value: number; range: [number, number] } {
  return { value: items / t.median, range: [items / t.max, items / t.min] };
}
