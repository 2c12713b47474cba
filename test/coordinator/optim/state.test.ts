/** Save/load of optimizer state, shape checks and config validation. */
import { describe, expect, it } from 'vitest';
import { OptimizerConfigError, OptimizerStateError, ParamShapeError } from '../../../coordinator/optim/errors.js';
import { createOptimizer } from '../../../coordinator/optim/registry.js';
import type { OptimizerConfig, OptimizerKind, ParamSpec } from '../../../coordinator/optim/types.js';
import { Arena, type FlatVector } from '../../../shared/kernels/index.js';
import { Rng } from '../../../shared/random.js';
import { vectorOf } from './close.js';

const specs: ParamSpec[] = [
  { name: 'fc.weight', size: 12, decay: true },
  { name: 'fc.bias', size: 3, decay: false },
];
const configs: OptimizerConfig[] = [
  { kind: 'sgd', weightDecay: 1e-3, l1: 1e-4 },
  { kind: 'momentum', momentum: 0.9, weightDecay: 1e-3 },
  { kind: 'nesterov', momentum: 0.8, l1: 1e-4 },
  { kind: 'adam', weightDecay: 1e-3 },
  { kind: 'adamw', weightDecay: 0.05, l1: 1e-4 },
];
const SLOTS: Record<OptimizerKind, string[]> = { sgd: [], momentum: ['velocity'], nesterov: ['velocity'], adam: ['m', 'v'], adamw: ['m', 'v'] };

const arena = Arena.growable();

function gradients(rng: Rng): FlatVector {
  return vectorOf(arena, specs.map((s) => rng.floats(s.size)));
}

const zeros = () => vectorOf(arena, specs.map((s) => new Float32Array(s.size)));

function bitsOf(arrays: Float32Array[]): number[] {
  return arrays.flatMap((a) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)]);
}

describe('optimizer state', () => {
  for (const cfg of configs) {
    it(`${cfg.kind}: a restored optimizer continues bit-identically`, () => {
      const rng = Rng.seeded(7);
      const init = specs.map((s) => rng.floats(s.size));
      const grads = Array.from({ length: 5 }, () => gradients(rng));

      const straight = vectorOf(arena, init);
      const a = createOptimizer(cfg, specs, arena);
      for (const g of grads) a.update(straight, g, 0.05);

      const resumed = vectorOf(arena, init);
      const b = createOptimizer(cfg, specs, arena);
      b.update(resumed, grads[0]!, 0.05);
      b.update(resumed, grads[1]!, 0.05);
      const saved = b.saveState();
      expect(saved.step).toBe(2);
      expect(Object.keys(saved.slots).sort()).toEqual([...SLOTS[cfg.kind]].sort());
      // A JSON-like round trip through fresh arrays, as a checkpoint file would give.
      const copy = { kind: saved.kind, step: saved.step, slots: Object.fromEntries(Object.entries(saved.slots).map(([k, v]) => [k, v.map((x) => Float32Array.from(x))])) };
      const c = createOptimizer(cfg, specs, arena);
      c.loadState(copy);
      for (const g of grads.slice(2)) c.update(resumed, g, 0.05);

      expect(bitsOf(resumed.parts)).toEqual(bitsOf(straight.parts));
      expect(bitsOf(Object.values(c.saveState().slots).flat())).toEqual(bitsOf(Object.values(a.saveState().slots).flat()));
    });
  }

  it('saveState returns copies that later updates do not change', () => {
    const opt = createOptimizer({ kind: 'adam' }, specs, arena);
    const params = zeros();
    const rng = Rng.seeded(1);
    opt.update(params, gradients(rng), 0.1);
    const saved = opt.saveState();
    const before = bitsOf(saved.slots['m']!);
    opt.update(params, gradients(rng), 0.1);
    expect(bitsOf(saved.slots['m']!)).toEqual(before);
    expect(saved.step).toBe(1);
  });

  it('rejects a state of another kind, other sizes or missing slots, and leaves itself untouched', () => {
    const adam = createOptimizer({ kind: 'adam' }, specs, arena);
    const params = zeros();
    adam.update(params, gradients(Rng.seeded(2)), 0.1);
    const good = adam.saveState();
    const momentum = createOptimizer({ kind: 'momentum' }, specs, arena);
    expect(() => momentum.loadState(good)).toThrow(OptimizerStateError);
    expect(() => momentum.loadState(good)).toThrow(/state is for a 'adam' optimizer, this one is 'momentum'/);

    const fresh = createOptimizer({ kind: 'adam' }, specs, arena);
    const shortV = { ...good, slots: { m: good.slots['m']!, v: [good.slots['v']![0]!, new Float32Array(2)] } };
    expect(() => fresh.loadState(shortV)).toThrow(/slot 'v' of param 'fc.bias' holds 2 values, expected 3/);
    expect(fresh.saveState().step).toBe(0);
    expect(bitsOf(fresh.saveState().slots['m']!).every((b) => b === 0)).toBe(true);
    expect(() => fresh.loadState({ ...good, slots: { m: good.slots['m']! } })).toThrow(/needs slots \[m, v\], got \[m\]/);
    expect(() => fresh.loadState({ ...good, step: -1 })).toThrow(OptimizerStateError);
  });
});

describe('update arguments', () => {
  const opt = () => createOptimizer({ kind: 'sgd' }, specs, arena);
  it('names the layout a gradient of the wrong shape has and the one it needs', () => {
    const g = vectorOf(arena, [new Float32Array(12), new Float32Array(4)]);
    expect(() => opt().update(zeros(), g, 0.1)).toThrow(ParamShapeError);
    expect(() => opt().update(zeros(), g, 0.1)).toThrow(/gradients hold tensors of \[12, 4\] values; the optimizer's params need \[12, 3\] first/);
  });
  it('takes a gradient vector that carries more tensors after the params (weighted buffer states)', () => {
    const params = zeros();
    opt().update(params, vectorOf(arena, [new Float32Array(12).fill(1), new Float32Array(3).fill(1), new Float32Array(5).fill(9)]), 0.5);
    expect([...params.parts[1]!]).toEqual([-0.5, -0.5, -0.5]);
  });
  it('rejects vectors of another arena, a bad learning rate and a bad gradient scale', () => {
    const other = Arena.growable();
    expect(() => opt().update(vectorOf(other, specs.map((s) => new Float32Array(s.size))), zeros(), 0.1)).toThrow(/vectors of the optimizer's arena/);
    expect(() => opt().update(zeros(), zeros(), -1)).toThrow(/`lr` must be finite and ≥ 0, got -1/);
    expect(() => opt().update(zeros(), zeros(), NaN)).toThrow(OptimizerConfigError);
    expect(() => opt().update(zeros(), zeros(), 0.1, 0)).toThrow(/`gradScale` must be finite and > 0, got 0/);
  });
});

describe('optimizer config', () => {
  const cases: [OptimizerConfig, RegExp][] = [
    [{ kind: 'momentum', momentum: 1.5 }, /`optimizer.momentum` must be in \[0, 1\), got 1.5/],
    [{ kind: 'nesterov', momentum: 0 }, /`optimizer.momentum` must be in \(0, 1\) for nesterov, got 0/],
    [{ kind: 'adam', beta2: 1 }, /`optimizer.beta2` must be in \[0, 1\), got 1/],
    [{ kind: 'adamw', eps: 0 }, /`optimizer.eps` must be > 0, got 0/],
    [{ kind: 'sgd', weightDecay: -0.1 }, /`optimizer.weightDecay` must be ≥ 0, got -0.1/],
    [{ kind: 'sgd', l1: NaN }, /`optimizer.l1` must be ≥ 0, got NaN/],
    [{ kind: 'rmsprop' as OptimizerKind }, /`optimizer.kind` must be one of sgd, momentum, nesterov, adam, adamw, got 'rmsprop'/],
  ];
  for (const [cfg, message] of cases) {
    it(`rejects ${JSON.stringify(cfg)}`, () => {
      expect(() => createOptimizer(cfg, specs, arena)).toThrow(OptimizerConfigError);
      expect(() => createOptimizer(cfg, specs, arena)).toThrow(message);
    });
  }
  it('ignores fields a kind does not use', () => {
    expect(() => createOptimizer({ kind: 'sgd', beta1: 5, momentum: 7 }, specs, arena)).not.toThrow();
  });
});
