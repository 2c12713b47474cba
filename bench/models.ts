/**
 * The benchmark models, as model specs. bench/torch_step.py builds the same architectures in
 * PyTorch for the reference line; keep the two in step.
 */
import type { ModelSpecInput } from '../shared/model/spec.js';

export interface BenchModel {
  /** Id shared with torch_step.py. */
  id: 'mlp' | 'cnn';
  label: string;
  spec: ModelSpecInput;
}

export const BENCH_MODELS: readonly BenchModel[] = [
  {
    id: 'mlp',
    label: 'MLP 784-256-128-10',
    spec: {
      name: 'bench-mlp',
      input: { shape: [784] },
      layers: [
        { type: 'dense', units: 256, activation: 'relu' },
        { type: 'dense', units: 128, activation: 'relu' },
        { type: 'dense', units: 10 },
      ],
      loss: 'cross-entropy',
      seed: 0,
    },
  },
  {
    id: 'cnn',
    label: 'CNN conv8-pool-conv16-pool-dense10',
    spec: {
      name: 'bench-cnn',
      input: { shape: [1, 28, 28] },
      layers: [
        { type: 'conv2d', filters: 8, kernel: 3, activation: 'relu' },
        { type: 'maxpool2d', kernel: 2 },
        { type: 'conv2d', filters: 16, kernel: 3, activation: 'relu' },
        { type: 'maxpool2d', kernel: 2 },
        { type: 'flatten' },
        { type: 'dense', units: 10 },
      ],
      loss: 'cross-entropy',
      seed: 0,
    },
  },
];
