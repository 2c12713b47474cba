/** Epoch plans: each sample once per epoch, micro-batch sizes, determinism, seeds. */
import { describe, expect, it } from 'vitest';
import { PlanError } from '../../../coordinator/plan/errors.js';
import { epochOrder, microbatchPositions, planEpoch, stepsPerEpoch } from '../../../coordinator/plan/epoch.js';
import { SeedStream, deriveSeed } from '../../../coordinator/plan/seeds.js';

describe('planEpoch', () => {
  // N = 103, B = 16, b = 5: six full steps of 16 (micro-batches 5, 5, 5, 1) and a last step of
  // 103 − 96 = 7 (micro-batches 5, 2).
  const plan = planEpoch(103, 16, 5, 42, 0);

  it('uses every training sample exactly once per epoch', () => {
    const counts = new Uint32Array(103);
    for (const step of plan.steps) for (const mb of step.microbatches) for (const pos of microbatchPositions(plan, mb)) counts[pos]!++;
    expect([...counts].every((c) => c === 1)).toBe(true);
    expect([...plan.order].sort((a, b) => a - b)).toEqual(Array.from({ length: 103 }, (_, i) => i));
  });

  it('cuts steps of B and micro-batches of b, keeping the last partial ones at their true size', () => {
    expect(plan.steps.length).toBe(7);
    expect(stepsPerEpoch(103, 16)).toBe(7);
    expect(plan.steps.map((s) => s.samples)).toEqual([16, 16, 16, 16, 16, 16, 7]);
    for (const s of plan.steps.slice(0, 6)) expect(s.microbatches.map((m) => m.end - m.start)).toEqual([5, 5, 5, 1]);
    expect(plan.steps[6]!.microbatches.map((m) => m.end - m.start)).toEqual([5, 2]);
    expect(plan.steps[6]!.microbatches.map((m) => m.index)).toEqual([0, 1]);
    // Contiguous: each micro-batch starts where the previous one ended, each step where the last ended.
    let at = 0;
    for (const s of plan.steps) {
      expect(s.start).toBe(at);
      for (const m of s.microbatches) {
        expect(m.start).toBe(at);
        at = m.end;
      }
      expect(s.end).toBe(at);
    }
    expect(at).toBe(103);
  });

  it('is the same plan every time for the same seed and epoch', () => {
    const again = planEpoch(103, 16, 5, 42, 0);
    expect(again).toEqual(plan);
    expect(Buffer.from(again.order.buffer).equals(Buffer.from(plan.order.buffer))).toBe(true);
  });

  it('shuffles differently in other epochs and under other seeds, with the same boundaries', () => {
    const e1 = planEpoch(103, 16, 5, 42, 1);
    const s7 = planEpoch(103, 16, 5, 7, 0);
    expect([...e1.order]).not.toEqual([...plan.order]);
    expect([...s7.order]).not.toEqual([...plan.order]);
    expect([...s7.order]).not.toEqual([...e1.order]);
    const bounds = (p: typeof plan) => p.steps.map((s) => s.microbatches.map((m) => [m.start, m.end]));
    expect(bounds(e1)).toEqual(bounds(plan));
    expect(bounds(s7)).toEqual(bounds(plan));
  });

  it('handles a batch larger than the training set and b = B', () => {
    const p = planEpoch(10, 32, 32, 1, 3);
    expect(p.steps.map((s) => s.microbatches.map((m) => m.end - m.start))).toEqual([[10]]);
    expect(epochOrder(10, 1, 3)).toEqual(p.order);
  });

  it('rejects sizes that cannot be planned, naming the field', () => {
    expect(() => planEpoch(0, 16, 4, 1, 0)).toThrow(/`trainSize` must be an integer in \[1, 2³² − 1\], got 0/);
    expect(() => planEpoch(100, 16, 32, 1, 0)).toThrow(/`batch.micro` must be an integer in \[1, batch.global = 16\], got 32/);
    expect(() => planEpoch(100, 0, 1, 1, 0)).toThrow(PlanError);
    expect(() => planEpoch(100, 16, 4, 1, -1)).toThrow(/`epoch` must be an integer ≥ 0, got -1/);
    expect(() => planEpoch(100, 16, 4, 1.5, 0)).toThrow(/`seed` must be an integer/);
  });
});

describe('deriveSeed', () => {
  it('gives distinct seeds over a grid of (job seed, epoch) and keeps streams apart', () => {
    const seen = new Set<number>();
    for (let s = 0; s < 100; s++) for (let e = 0; e < 100; e++) seen.add(deriveSeed(s, SeedStream.epoch, e));
    expect(seen.size).toBe(10_000);
    for (let i = 0; i < 100; i++) expect(deriveSeed(9, SeedStream.epoch, i)).not.toBe(deriveSeed(9, SeedStream.bootstrap, i));
  });

  it('returns an unsigned 32-bit integer and accepts negative int32 job seeds', () => {
    const v = deriveSeed(-5, SeedStream.epoch, 3);
    expect(Number.isInteger(v) && v >= 0 && v < 2 ** 32).toBe(true);
    expect(deriveSeed(-5, SeedStream.epoch, 3)).toBe(v);
  });
});
