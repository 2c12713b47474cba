/**
 * What the worker's main thread and its compute thread (thread.ts) say to each other. The main
 * thread keeps the gRPC side (tasks, parameter downloads, result uploads, heartbeats) moving; the
 * compute thread owns the onnxruntime sessions, whose runs block the thread that calls them.
 *
 * Bulk data never goes through structured cloning: the dataset and each run's weights sit in
 * SharedArrayBuffers the main thread fills (the compute thread copies weights into its own
 * memory, which onnxruntime accepts, when a task needs another version than it holds), and a
 * result's vector travels as an ArrayBuffer whose ownership is transferred, then handed back for
 * reuse once it has been uploaded.
 */
import type { DeviceKind } from '../../shared/engine/device.js';
import type { LeafStats } from '../../shared/engine/leaf.js';
import type { AdversarialMeta, AttackGraphMeta, EvalGraphMeta, TrainingGraphMeta } from '../../shared/cluster/job-wire.js';
import type { AugmentConfig } from '../../shared/augment/schema.js';
import type { TreeNode } from '../../shared/reduction/index.js';

export interface SharedDataset {
  name: string;
  size: number;
  featureShape: number[];
  numClasses: number | undefined;
  targetWidth: number;
  /** Float32 features, size × prod(featureShape). */
  features: SharedArrayBuffer;
  /** Int32 class indices or float32 targets. */
  labels: SharedArrayBuffer;
  labelType: 'int32' | 'float32';
}

export interface InitMessage {
  type: 'init';
  trainModel: Uint8Array;
  evalModel: Uint8Array;
  train: TrainingGraphMeta;
  eval: EvalGraphMeta;
  device: DeviceKind;
  threads: number;
  dataset: SharedDataset;
  /** Leaves of a training step: the largest task the thread must hold memory for. */
  microbatchesPerStep: number;
  /** The job's augmentation of training samples. */
  augment?: AugmentConfig;
  /** Adversarial training and evaluation. */
  adversarial?: AdversarialMeta;
  /** The graph evaluation attacks differentiate, with adversarial evaluation. */
  attack?: AttackGraphMeta;
  attackModel?: Uint8Array;
}

/** A run's parameters then buffers at a version, in the padded layout of shared/kernels (params then buffers). */
export interface WeightsRef {
  runId: number;
  version: number;
  buffer: SharedArrayBuffer;
}

export interface TaskMessage {
  type: 'task';
  /** Matches the reply to the request. */
  id: number;
  kind: 'train' | 'eval';
  node: TreeNode;
  k: number;
  leaves: { indices: Uint32Array; maskSeed: number }[];
  /** Train: the run's dropout probability instead of the graph's (worker/task.ts). */
  dropout?: number;
  /** Train, with the job's augmentation: the step's augmentation seed. */
  augmentSeed?: number;
  /** Eval: the split ('validation', 'test', 'oob'); validation and test shards are attacked when the job evaluates attacks. */
  split?: string;
  weights: WeightsRef;
}

/** A result buffer coming back for reuse once its upload is done. */
export interface RecycleMessage {
  type: 'recycle';
  buffer: ArrayBuffer;
}

export type ToThread = InitMessage | TaskMessage | RecycleMessage | { type: 'close' };

export type FromThread =
  | { type: 'ready'; device: string }
  | { type: 'warning'; message: string }
  | {
      type: 'result';
      id: number;
      leaves: LeafStats[];
      /** train: the node's value (gradient sums then weighted buffer states), padded layout; transferred. */
      vector?: ArrayBuffer;
      computeMs: number;
    }
  | { type: 'failed'; id: number | null; message: string; stack?: string };
