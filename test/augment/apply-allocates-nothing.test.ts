import { describe, it, expect, afterEach } from 'vitest';
import { EVERY_TRANSFORM, augmenterFor, batchOf, image } from './helpers.js';

const TYPED = ['Float32Array', 'Float64Array', 'Int32Array', 'Uint32Array', 'Uint8Array', 'Int16Array', 'Uint16Array', 'Int8Array', 'ArrayBuffer', 'Array'] as const;
const TypedArrayProto = Object.getPrototypeOf(Float32Array.prototype) as Record<string, unknown>;
const METHODS = ['subarray', 'slice', 'map', 'filter'] as const;

/**
 * Counts every typed array, ArrayBuffer and Array made through a constructor, and every view or
 * copy made through subarray/slice/map/filter, while `run` runs: the module resolves these globals
 * at call time, so it allocates through the counting versions.
 */
function countAllocations(run: () => void): number {
  let count = 0;
  const g = globalThis as Record<string, unknown>;
  const saved = new Map<string, unknown>();
  for (const name of TYPED) {
    const original = g[name] as new (...args: unknown[]) => unknown;
    saved.set(name, original);
    g[name] = new Proxy(original, {
      construct(target, args, newTarget) {
        count++;
        return Reflect.construct(target, args, newTarget === g[name] ? target : newTarget);
      },
      apply(target, self, args) {
        count++;
        return Reflect.apply(target, self, args);
      },
    });
  }
  const savedMethods = new Map<string, unknown>();
  for (const m of METHODS) {
    const original = TypedArrayProto[m] as (...args: unknown[]) => unknown;
    savedMethods.set(m, original);
    TypedArrayProto[m] = function (this: unknown, ...args: unknown[]) {
      count++;
      return original.apply(this, args);
    };
  }
  try {
    run();
  } finally {
    for (const [name, original] of saved) g[name] = original;
    for (const [m, original] of savedMethods) TypedArrayProto[m] = original;
  }
  return count;
}


describe('Augmenter.apply', () => {
  afterEach(() => expect(Float32Array.name).toBe('Float32Array'));

  it('makes no typed array, buffer, view or array in any call (the counter itself does count)', () => {
    const aug = augmenterFor(EVERY_TRANSFORM, [1, 28, 28]);
    const x = batchOf(image(1, 28, 28, 5), 128);
    const indices = Uint32Array.from({ length: 128 }, (_, i) => i * 7);
    // The instrument works: a Float32Array made in the window is counted.
    expect(countAllocations(() => new Float32Array(4).subarray(1))).toBe(2);
    expect(countAllocations(() => aug.apply(x, indices, 1))).toBe(0); // the first call too
    expect(countAllocations(() => {
      for (let s = 0; s < 50; s++) aug.apply(x, indices, s);
    })).toBe(0);
  });

  it('does not grow the process’s ArrayBuffer memory over hundreds of calls', () => {
    const aug = augmenterFor(EVERY_TRANSFORM, [3, 32, 32]);
    const x = batchOf(image(3, 32, 32, 9), 64);
    const indices = Array.from({ length: 64 }, (_, i) => i);
    aug.apply(x, indices, 0);
    const before = process.memoryUsage().arrayBuffers;
    // 300 calls × 64 samples of 12 KiB: a scratch image per sample would add 225 MiB, one per call 3.5 MiB.
    for (let s = 1; s <= 300; s++) aug.apply(x, indices, s);
    const grown = process.memoryUsage().arrayBuffers - before;
    expect(grown).toBeLessThan(256 * 1024);
  });
});
