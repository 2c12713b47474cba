/**
 * The terminal progress line: metric lines folded into state, the ETA from the pace since the
 * first step, the text, and the TTY gate (nothing is written to a stream that is not a TTY).
 */
import { describe, expect, it } from 'vitest';
import { estimateEta, foldMetric, formatDuration, formatProgress, initialProgress, plannedSteps, terminalProgress, type MetricLine } from '../../coordinator/progress.js';

const step = (n: number, epoch: number, loss: number, time: number, extra: MetricLine = {}): MetricLine => ({ type: 'step', run: 'r', step: n, epoch, loss, lr: 0.1, samples: 64, time, ...extra });
const evalLine = (split: string, accuracy: number | null, loss = 0.3): MetricLine => ({ type: 'eval', run: 'r', step: 7, epoch: 1, split, loss, accuracy, count: 100 });
const fold = (lines: MetricLine[]) => lines.reduce(foldMetric, initialProgress('r'));

describe('plannedSteps', () => {
  it('counts whole epochs of global batches, a last partial batch included', () => {
    expect(plannedSteps({ epochs: 3, batch: { global: 64, micro: 16 }, max_steps: undefined }, 410)).toEqual({ epochs: 3, totalSteps: 21 });
  });
  it('takes max_steps when the job sets it', () => {
    expect(plannedSteps({ epochs: 3, batch: { global: 64, micro: 16 }, max_steps: 5 }, 410)).toEqual({ epochs: 3, totalSteps: 5 });
  });
});

describe('foldMetric', () => {
  it('shows the 1-based epoch of the latest step and its loss', () => {
    const s = fold([step(1, 0, 2.5, 1000), step(8, 1, 1.25, 2000)]);
    expect(s).toMatchObject({ epoch: 2, step: 8, loss: 1.25, firstStep: 1, firstStepTime: 1000, lastStepTime: 2000 });
  });
  it('keeps the last finite loss over a skipped step', () => {
    const s = fold([step(1, 0, 2.5, 1000), step(2, 0, NaN, 1100, { skipped: true })]);
    expect(s.loss).toBe(2.5);
    expect(s.step).toBe(2);
  });
  it('takes validation and test accuracy from evaluation lines', () => {
    const s = fold([step(7, 0, 1, 1000), evalLine('validation', 0.875, 0.4), evalLine('test', 0.9)]);
    expect(s).toMatchObject({ valAccuracy: 0.875, valLoss: 0.4, testAccuracy: 0.9 });
  });
  it('ignores lines of other kinds', () => {
    const s0 = fold([step(3, 0, 1, 1000)]);
    expect(foldMetric(s0, { type: 'note', text: 'x' })).toEqual(s0);
  });
});

describe('estimateEta', () => {
  it('has no estimate before two steps give a pace', () => {
    expect(estimateEta(initialProgress('r'), 10)).toBeNull();
    expect(estimateEta(fold([step(1, 0, 1, 5000)]), 10)).toBeNull();
  });
  it('multiplies the remaining steps by the mean time per step since the first step', () => {
    // Steps 1..5 over 2 s: 0.5 s per step; 95 steps left.
    const s = fold([step(1, 0, 1, 10_000), step(3, 0, 1, 10_600), step(5, 0, 1, 12_000)]);
    expect(estimateEta(s, 100)).toBeCloseTo(47.5, 12);
  });
  it('is zero at or past the last scheduled step', () => {
    expect(estimateEta(fold([step(1, 0, 1, 0), step(10, 0, 1, 900)]), 10)).toBe(0);
  });
});

describe('formatDuration', () => {
  it.each([
    [4.2, '4s'],
    [59.6, '1m00s'],
    [75, '1m15s'],
    [3725, '1h02m'],
    [-3, '0s'],
  ])('%s s reads %s', (s, text) => expect(formatDuration(s)).toBe(text));
});

describe('formatProgress', () => {
  const plan = { epochs: 3, totalSteps: 21 };
  it('shows epoch, step, loss, validation accuracy and the ETA', () => {
    const s = fold([step(1, 0, 2.30259, 0), step(8, 1, 0.51234, 3500), evalLine('validation', 0.9)]);
    expect(formatProgress(s, plan)).toBe('epoch 2/3  step 8/21  loss 0.5123  val acc 0.9000  ETA 7s');
  });
  it('uses dashes before there is anything to show', () => {
    expect(formatProgress(initialProgress('r'), plan)).toBe('epoch 1/3  step 0/21  loss –  val acc –  ETA –');
  });
  it('shows the test accuracy instead of the ETA once the run is tested, and the run name when asked', () => {
    const s = fold([step(21, 2, 0.25, 0), evalLine('validation', 0.93), evalLine('test', 0.945)]);
    expect(formatProgress(s, plan, { showRun: true })).toBe('[r] epoch 3/3  step 21/21  loss 0.2500  val acc 0.9300  test acc 0.9450');
  });
});

describe('terminalProgress', () => {
  const plan = { epochs: 3, totalSteps: 21 };
  const sink = (isTTY: boolean, columns?: number) => {
    const writes: string[] = [];
    return { stream: { isTTY, columns, write: (t: string) => writes.push(t) }, writes };
  };

  it('writes nothing and returns nothing when the stream is not a TTY', () => {
    const { stream, writes } = sink(false);
    expect(terminalProgress(plan, stream)).toBeUndefined();
    expect(writes).toEqual([]);
  });

  it('redraws one line in place, throttles step lines, always draws evaluations, and ends with a newline', () => {
    const { stream, writes } = sink(true);
    let clock = 0;
    const p = terminalProgress(plan, stream, { minIntervalMs: 100, now: () => clock })!;
    p.update(step(1, 0, 2, 0));
    clock = 50;
    p.update(step(2, 0, 1.5, 50)); // within 100 ms of the last draw: not drawn
    clock = 60;
    p.update(evalLine('validation', 0.5));
    p.finish();
    expect(writes).toEqual([
      '\r\x1b[2Kepoch 1/3  step 1/21  loss 2.0000  val acc –  ETA –\r',
      '\r\x1b[2Kepoch 1/3  step 2/21  loss 1.5000  val acc 0.5000  ETA 1s\r',
      '\r\x1b[2Kepoch 1/3  step 2/21  loss 1.5000  val acc 0.5000  ETA 1s\r',
      '\n',
    ]);
  });

  it('cuts the line to the terminal width so that it never wraps', () => {
    const { stream, writes } = sink(true, 20);
    terminalProgress(plan, stream)!.update(step(1, 0, 2, 0));
    expect(writes[0]).toBe('\r\x1b[2Kepoch 1/3  step 1/2\r');
  });

  it('writes no newline at the end when nothing was drawn', () => {
    const { stream, writes } = sink(true);
    terminalProgress(plan, stream)!.finish();
    expect(writes).toEqual([]);
  });
});
