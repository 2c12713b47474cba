/** Save/load of optimizer state, shape checks and config validation. */
import { describe, expect, it } from 'vitest';
import { OptimizerConfigError, OptimizerStateError, ParamShapeError } from '../../../coordinator/optim/errors.js';
import { createOptimizer } from '../../../coordinator/optim/registry.js';
import type { OptimizerConfig, OptimizerKind, ParamSpec } from '../../../coordinator/optim/types.js';
import { Rng } from '../../../shared/random.js';

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

function gradients(rng: Rng): Float32Array[] {
  return specs.map((s) => rng.floats(s.size));
}

function bitsOf(arrays: Float32Array[]): number[] {
  return arrays.flatMap((a) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)]);
}

describe('optimizer state', () => {
  for (const cfg of configs) {
    it(`${cfg.kind}: a restored optimizer continues bit-identically`, () => {
      const rng = Rng.seeded(7);
      const init = specs.map((s) => rng.floats(s.size));
      const grads = Array.from({ length: 5 }, () => gradients(rng));

      const straight = init.map((p) => p.slice());
      const a = createOptimizer(cfg, specs);
      for (const g of grads) a.update(straight, g, 0.05);

      const resumed = init.map((p) => p.slice());
      const b = createOptimizer(cfg, specs);
      b.update(resumed, grads[0]!, 0.05);
      b.update(resumed, grads[1]!, 0.05);
      const saved = b.saveState();
      expect(saved.step).toBe(2);
      expect(Object.keys(saved.slots).sort()).toEqual([...SLOTS[cfg.kind]].sort());
      // A JSON-like round trip through fresh arrays, as a checkpoint file would give.
      const copy = { kind: saved.kind, step: saved.step, slots: Object.fromEntries(Object.entries(saved.slots).map(([k, v]) => [k, v.map((x) => Float32Array.from(x))])) };
      const c = createOptimizer(cfg, specs);
      c.loadState(copy);
      for (const g of grads.slice(2)) c.update(resumed, g, 0.05);

      expect(bitsOf(resumed)).toEqual(bitsOf(straight));
      expect(bitsOf(Object.values(c.saveState().slots).flat())).toEqual(bitsOf(Object.values(a.saveState().slots).flat()));
    });
  }

  it('saveState returns copies that later updates do not change', () => {
    const opt = createOptimizer({ kind: 'adam' }, specs);
    const params = specs.map((s) => new Float32Array(s.size));
    const rng = Rng.seeded(1);
    opt.update(params, gradients(rng), 0.1);
    const saved = opt.saveState();
    const before = bitsOf(saved.slots['m']!);
    opt.update(params, gradients(rng), 0.1);
    expect(bitsOf(saved.slots['m']!)).toEqual(before);
    expect(saved.step).toBe(1);
  });

  it('rejects a state of another kind, other sizes or missing slots, and leaves itself untouched', () => {
    const adam = createOptimizer({ kind: 'adam' }, specs);
    const params = specs.map((s) => new Float32Array(s.size));
    adam.update(params, gradients(Rng.seeded(2)), 0.1);
    const good = adam.saveState();
    const momentum = createOptimizer({ kind: 'momentum' }, specs);
    expect(() => momentum.loadState(good)).toThrow(OptimizerStateError);
    expect(() => momentum.loadState(good)).toThrow(/state is for a 'adam' optimizer, this one is 'momentum'/);

    const fresh = createOptimizer({ kind: 'adam' }, specs);
    const shortV = { ...good, slots: { m: good.slots['m']!, v: [good.slots['v']![0]!, new Float32Array(2)] } };
    expect(() => fresh.loadState(shortV)).toThrow(/slot 'v' of param 'fc.bias' holds 2 values, expected 3/);
    expect(fresh.saveState().step).toBe(0);
    expect(bitsOf(fresh.saveState().slots['m']!).every((b) => b === 0)).toBe(true);
    expect(() => fresh.loadState({ ...good, slots: { m: good.slots['m']! } })).toThrow(/needs slots \[m, v\], got \[m\]/);
    expect(() => fresh.loadState({ ...good, step: -1 })).toThrow(OptimizerStateError);
  });
});

describe('update arguments', () => {
  const opt = () => createOptimizer({ kind: 'sgd' }, specs);
  const params = () => specs.map((s) => new Float32Array(s.size));
  it('names the param whose gradient has the wrong size', () => {
    const g = [new Float32Array(12), new Float32Array(4)];
    expect(() => opt().update(params(), g, 0.1)).toThrow(ParamShapeError);
    expect(() => opt().update(params(), g, 0.1)).toThrow(/gradient of 'fc.bias' has 4 values, its spec says 3/);
  });
  it('rejects a wrong number of arrays and a bad learning rate', () => {
    expect(() => opt().update(params(), [new Float32Array(12)], 0.1)).toThrow(/got 1 gradients, the optimizer has 2 params/);
    expect(() => opt().update(params(), specs.map((s) => new Float32Array(s.size)), -1)).toThrow(/`lr` must be finite and ≥ 0, got -1/);
    expect(() => opt().update(params(), specs.map((s) => new Float32Array(s.size)), NaN)).toThrow(OptimizerConfigError);
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
      expect(() => createOptimizer(cfg, specs)).toThrow(OptimizerConfigError);
      expect(() => createOptimizer(cfg, specs)).toThrow(message);
    });
  }
  it('ignores fields a kind does not use', () => {
    expect(() => createOptimizer({ kind: 'sgd', beta1: 5, momentum: 7 }, specs)).not.toThrow();
  });
});
