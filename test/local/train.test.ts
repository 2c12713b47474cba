/**
 * The single-process trainer on the real bundled digits (8,000 train / 1,000 validation / 1,000
 * test): reproducible to the bit, learning, and accurate within two epochs.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { trainLocally, type LocalTrainResult } from '../../coordinator/local/index.js';
import { loadDigits } from '../../shared/data/digits.js';
import type { SplitData } from '../../shared/data/split.js';
import type { ModelSpecInput } from '../../shared/model/spec.js';

function bytesOf(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

describe('trainLocally with the defaults (default MLP, bundled digits, seed 42, 2 epochs)', () => {
  let first: LocalTrainResult;
  let second: LocalTrainResult;

  beforeAll(async () => {
    first = await trainLocally();
    second = await trainLocally();
  }, 120_000);

  it('trains on 8,000 digits for 2 epochs of 125 steps and tests on 1,000', () => {
    expect(first.history.map((h) => [h.epoch, h.steps, h.samples])).toEqual([
      [1, 125, 8000],
      [2, 125, 8000],
    ]);
    expect(first.steps).toBe(250);
    expect(first.skippedSteps).toBe(0);
    expect(first.test?.count).toBe(1000);
    expect(first.validation?.count).toBe(1000);
  });

  it('ends with bit-identical parameters when run twice with the same seed', () => {
    expect(second.paramInfo.map((p) => p.name)).toEqual(first.paramInfo.map((p) => p.name));
    first.params.forEach((p, i) => {
      expect(second.params[i] !== p, 'separate arrays').toBe(true);
      expect(bytesOf(second.params[i]!).equals(bytesOf(p)), `param ${first.paramInfo[i]!.name}`).toBe(true);
    });
    expect(second.stepLosses).toEqual(first.stepLosses);
    expect(second.test).toEqual(first.test);
  });

  it('changes every parameter from its initial value', () => {
    first.params.forEach((p, i) => {
      const init = first.paramInfo[i]!.init;
      expect(bytesOf(p).equals(bytesOf(init)), `param ${first.paramInfo[i]!.name}`).toBe(false);
    });
  });

  it('lowers the loss: training loss per step, per epoch, and validation loss', () => {
    const losses = first.stepLosses;
    expect(losses.every(Number.isFinite)).toBe(true);
    // ln 10 ≈ 2.30 is the loss of a uniform guess over ten classes.
    expect(mean(losses.slice(0, 5))).toBeGreaterThan(1.5);
    expect(mean(losses.slice(-25))).toBeLessThan(0.5 * mean(losses.slice(0, 25)));
    const [e1, e2] = first.history;
    expect(e2!.trainLoss).toBeLessThan(e1!.trainLoss);
    expect(e2!.validation!.loss).toBeLessThan(e1!.validation!.loss);
  });

  it('reaches more than 0.9 test accuracy within 2 epochs', () => {
    expect(first.test!.accuracy).toBeGreaterThan(0.9);
    expect(first.test!.loss).toBeLessThan(0.4);
  });
});

describe('trainLocally with a CNN with batch norm and dropout, in micro-batches', () => {
  // 600 digits in [1, 28, 28] form: the trainer fits the data to the model's input shape.
  const digits = loadDigits();
  const range = (from: number, to: number) => Uint32Array.from({ length: to - from }, (_, i) => from + i);
  const data: SplitData = {
    train: { dataset: digits, indices: range(0, 400) },
    validation: { dataset: digits, indices: range(400, 500) },
    test: { dataset: digits, indices: range(500, 600) },
  };
  const spec: ModelSpecInput = {
    name: 'cnn-bn',
    input: { shape: [1, 28, 28] },
    layers: [
      { type: 'conv2d', name: 'conv', filters: 4, kernel: 3 },
      { type: 'batch_norm', name: 'bn' },
      { type: 'relu' },
      { type: 'maxpool2d', kernel: 2 },
      { type: 'flatten' },
      { type: 'dropout', p: 0.25 },
      { type: 'dense', name: 'fc', units: 10 },
    ],
    loss: 'cross-entropy',
    seed: 3,
  };
  const run = () => trainLocally({ model: spec, data, epochs: 1, batch: 100, microBatch: 30, seed: 5 });

  it('repeats to the bit, parameters and batch-norm running statistics alike', async () => {
    const a = await run();
    const b = await run();
    expect(a.history[0]!.steps).toBe(4);
    expect(a.bufferInfo.map((x) => x.name).sort()).toEqual(['bn.running_mean', 'bn.running_var']);
    a.params.forEach((p, i) => expect(bytesOf(b.params[i]!).equals(bytesOf(p)), a.paramInfo[i]!.name).toBe(true));
    a.buffers.forEach((buf, i) => {
      expect(bytesOf(b.buffers[i]!).equals(bytesOf(buf)), a.bufferInfo[i]!.name).toBe(true);
      // Four steps of momentum 0.9 moved the running statistics off their initial 0 and 1.
      expect(bytesOf(buf).equals(bytesOf(a.bufferInfo[i]!.init)), a.bufferInfo[i]!.name).toBe(false);
    });
  }, 60_000);
});
