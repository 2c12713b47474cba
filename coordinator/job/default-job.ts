/**
 * The embedded default job (`coordinator start` without --config): the default MLP
 * (784-256-128-10, shared/model/defaults.ts) on the bundled MNIST digits, Adam, evaluation every
 * epoch, early stopping on validation accuracy with the best weights restored.
 */
import type { JobInput } from './schema.js';

/** A fresh copy each call, so callers may adjust it (tests shorten it). */
export function defaultJob(): JobInput {
  return {
    name: 'digits-mlp',
    seed: 42,
    model: { spec: 'default' },
    data: { source: 'digits', split: { validation: 0.1, test: 0.1 } },
    batch: { global: 128, micro: 32 },
    epochs: 30,
    optimizer: { kind: 'adam', lr: 0.001 },
    eval: { every: 'epoch' },
    early_stopping: { monitor: 'val_accuracy', patience: 3, min_delta: 0.001, restore_best: true },
    // Digits keep their label under small shifts and rotations; a horizontal flip does not (a
    // mirrored 2, 3, 4, 5, 7 or 9 is no digit, or another one), so the default leaves it out.
    augment: { shift: { max_pixels: 2, p: 0.5 }, rotate: { max_degrees: 10, p: 0.5 } },
  };
}
