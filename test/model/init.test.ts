import { describe, it, expect } from 'vitest';
import { convFans, denseFans, drawWeights, initVariance, paramStream } from '../../shared/model/init.js';
import { buildForwardModel } from '../../shared/model/build.js';
import { defaultModelSpec } from '../../shared/model/defaults.js';
import { INIT_SCHEMES, type ModelSpecInput } from '../../shared/model/spec.js';
import { correlation, initializer, initializerBytes, mean, variance } from './helpers.js';

describe('initialisation schemes (lecture: Xavier var = 2/(fan_in+fan_out), He var = 2/fan_in)', () => {
  const fans = denseFans(784, 256);
  const formula: Record<string, number> = {
    xavier_normal: 2 / (784 + 256),
    xavier_uniform: 2 / (784 + 256),
    he_normal: 2 / 784,
    he_uniform: 2 / 784,
  };
  for (const scheme of INIT_SCHEMES) {
    it(`${scheme}: sample variance of a 256×784 layer is within 2% of ${scheme.startsWith('he') ? '2/fan_in' : '2/(fan_in+fan_out)'}`, () => {
      expect(initVariance(scheme, fans)).toBeCloseTo(formula[scheme]!, 12);
      const w = drawWeights(scheme, 256 * 784, fans, paramStream(1, 'w'));
      expect(Math.abs(variance(w) / formula[scheme]! - 1)).toBeLessThan(0.02);
      expect(Math.abs(mean(w))).toBeLessThan(0.01 * Math.sqrt(formula[scheme]!));
      if (scheme.endsWith('uniform')) {
        // U(−a, a) with a = √(3·var): nothing beyond a, and values come close to it.
        const limit = Math.sqrt(3 * formula[scheme]!);
        const maxAbs = w.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        expect(maxAbs).toBeLessThanOrEqual(limit * (1 + 1e-6));
        expect(maxAbs).toBeGreaterThan(limit * 0.999);
      } else {
        // A normal has about 4.55% of its mass beyond 2σ; a uniform of equal variance has none.
        const sd = Math.sqrt(formula[scheme]!);
        const tail = w.filter((v) => Math.abs(v) > 2 * sd).length / w.length;
        expect(tail).toBeGreaterThan(0.04);
        expect(tail).toBeLessThan(0.051);
      }
    });
  }

  it('conv fans: fan_in = in_channels/groups × kernel area, fan_out = out_channels × kernel area', () => {
    expect(convFans(8, 16, 2, [3, 3])).toEqual({ fanIn: 36, fanOut: 144 });
    expect(convFans(3, 64, 1, [5, 5])).toEqual({ fanIn: 75, fanOut: 1600 });
  });

  it('a built conv layer has the Xavier uniform variance of its conv fans', () => {
    const fm = buildForwardModel({
      input: { shape: [32, 12, 12] },
      layers: [{ type: 'conv2d', name: 'c', filters: 64, kernel: 5, init: 'xavier_uniform' }, { type: 'flatten' }],
      loss: 'mse',
      seed: 3,
    });
    const w = initializer(fm.model, 'c.weight');
    expect(w.length).toBe(64 * 32 * 25);
    const want = 2 / (32 * 25 + 64 * 25);
    expect(Math.abs(variance(w) / want - 1)).toBeLessThan(0.03);
  });
});

describe('seeded parameter streams', () => {
  it('the same seed gives identical initializer bytes, another seed different ones', () => {
    const a = initializerBytes(buildForwardModel(defaultModelSpec(5)).model);
    const b = initializerBytes(buildForwardModel(defaultModelSpec(5)).model);
    const c = initializerBytes(buildForwardModel(defaultModelSpec(6)).model);
    expect([...a.keys()]).toEqual(['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias', 'fc3.weight', 'fc3.bias']);
    for (const [name, bytes] of a) expect(bytes.equals(b.get(name)!), name).toBe(true);
    expect(a.get('fc1.weight')!.equals(c.get('fc1.weight')!)).toBe(false);
  });

  it('the build seed option overrides the spec seed', () => {
    const viaOption = initializerBytes(buildForwardModel(defaultModelSpec(5), { seed: 6 }).model);
    const viaSpec = initializerBytes(buildForwardModel(defaultModelSpec(6)).model);
    expect(viaOption.get('fc2.weight')!.equals(viaSpec.get('fc2.weight')!)).toBe(true);
  });

  it('different layers draw uncorrelated values (|r| < 0.01 over 32,768 pairs)', () => {
    const m = buildForwardModel(defaultModelSpec(5)).model;
    const fc1 = initializer(m, 'fc1.weight');
    const fc2 = initializer(m, 'fc2.weight');
    expect(Math.abs(correlation(fc1, fc2, 32768))).toBeLessThan(0.01);
    // Neighbouring seeds are unrelated too (the state is a hash, not seed + offset).
    const s1 = drawWeights('he_uniform', 32768, denseFans(10, 10), paramStream(1, 'w'));
    const s2 = drawWeights('he_uniform', 32768, denseFans(10, 10), paramStream(2, 'w'));
    expect(Math.abs(correlation(s1, s2))).toBeLessThan(0.02);
  });

  it('adding a layer at the end leaves the earlier layers bit-identical', () => {
    const small: ModelSpecInput = { input: { shape: [20] }, layers: [{ type: 'dense', units: 8 }, { type: 'relu' }, { type: 'dense', units: 4 }], seed: 9 };
    // tanh (not relu) after dense_2, so its default scheme stays Xavier: only the stream is tested.
    const grown: ModelSpecInput = { ...small, layers: [...small.layers, { type: 'tanh' }, { type: 'dense', units: 3 }] };
    const a = initializerBytes(buildForwardModel(small).model);
    const b = initializerBytes(buildForwardModel(grown).model);
    expect([...b.keys()]).toEqual(['dense_0.weight', 'dense_0.bias', 'dense_2.weight', 'dense_2.bias', 'dense_4.weight', 'dense_4.bias']);
    for (const [name, bytes] of a) expect(bytes.equals(b.get(name)!), name).toBe(true);
  });
});

describe('default schemes and constant parameters', () => {
  const spec: ModelSpecInput = {
    input: { shape: [4, 16, 16] },
    layers: [
      { type: 'conv2d', name: 'c1', filters: 64, kernel: 3 },
      { type: 'batch_norm', name: 'bn' },
      { type: 'relu' },
      { type: 'flatten' },
      { type: 'dense', name: 'h', units: 600, activation: 'leaky_relu' },
      { type: 'dense', name: 't', units: 300 },
      { type: 'tanh' },
      { type: 'dense', name: 'out', units: 10 },
    ],
    init: { bias: 0.5 },
    seed: 4,
  };
  const m = buildForwardModel(spec).model;

  it('uses He for a layer followed by relu/leaky_relu (through batch_norm) and Xavier otherwise', () => {
    // 2,304 values: a 10% band is > 3 standard errors, and Xavier here would be 17× smaller.
    expect(Math.abs(variance(initializer(m, 'c1.weight')) / (2 / (4 * 9)) - 1)).toBeLessThan(0.1);
    expect(Math.abs(variance(initializer(m, 'h.weight')) / (2 / (64 * 14 * 14)) - 1)).toBeLessThan(0.03);
    expect(Math.abs(variance(initializer(m, 't.weight')) / (2 / (600 + 300)) - 1)).toBeLessThan(0.03);
  });

  it('fills biases with init.bias and batch norm with scale 1, shift 0, mean 0, var 1', () => {
    expect([...initializer(m, 'h.bias')].every((v) => v === 0.5)).toBe(true);
    expect([...initializer(m, 'bn.weight')].every((v) => v === 1)).toBe(true);
    expect([...initializer(m, 'bn.bias')].every((v) => v === 0)).toBe(true);
    expect([...initializer(m, 'bn.running_mean')].every((v) => v === 0)).toBe(true);
    expect([...initializer(m, 'bn.running_var')].every((v) => v === 1)).toBe(true);
  });
});
