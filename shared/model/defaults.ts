/**
 * The embedded default model, used when a job names no model: an MLP 784-256-128-10 with ReLU
 * and dropout, one cross-entropy head, for the bundled 28×28 digits (shared/data/digits.ts).
 */
import type { ModelSpecInput } from './spec.js';

/** A fresh copy each call, so a caller may edit it (e.g. the seed) without touching the default. */
export function defaultModelSpec(seed = 0): ModelSpecInput {
  return {
    name: 'mlp-784-256-128-10',
    input: { name: 'x', shape: [784], type: 'float' },
    layers: [
      { type: 'dense', name: 'fc1', units: 256 },
      { type: 'relu' },
      { type: 'dropout', p: 0.2 },
      { type: 'dense', name: 'fc2', units: 128 },
      { type: 'relu' },
      { type: 'dense', name: 'fc3', units: 10 },
    ],
    loss: 'cross-entropy',
    seed,
  };
}
