/**
 * The contract between the compiler (compile.ts) and everything that runs compiled graphs
 * (the worker engine, the single-process loop, the coordinator).
 */
import type { ModelProto } from '../proto/gen/onnx.js';
import type { Shape } from '../onnx/shapes.js';

export type LossKind = 'cross-entropy' | 'mse' | 'bce';

export interface HeadSpec {
  /** Name of the head (per-head loss output is `loss:<name>`). */
  name: string;
  /** Forward output the loss reads. */
  logits: string;
  /** Graph input holding the labels (created if the forward graph lacks it). */
  labels: string;
  loss: LossKind;
  /** Weight of this head's loss in the total (default 1). */
  weight?: number;
  /** cross-entropy only. */
  labelSmoothing?: number;
  /** cross-entropy only: one weight per class. */
  classWeights?: number[];
}

export interface CompileOptions {
  heads: HeadSpec[];
  /** Initializers whose name matches are frozen (stay initializers, get no gradient). */
  freeze?: RegExp;
  /**
   * 'mean' (default): loss is the batch mean, as in PyTorch. 'sum': loss and gradients are sums
   * over the batch, so that the coordinator can add micro-batches and divide by the true count.
   */
  reduction?: 'mean' | 'sum';
  /** Adds `grad:<input>` outputs for these forward inputs (FGSM and other adversarial methods). */
  inputGradients?: string[];
  /** Adds a `correct` output (count of argmax(logits) == label) for classification heads. */
  correct?: boolean;
  /**
   * 'mask-input' (default): each Dropout becomes X·M·1/(1−p) with M a 0/1 float graph input
   * `dropout_mask:<node>`, so the caller controls randomness (bit-reproducible training);
   * 'native': ONNX Dropout in training mode, its mask output reused by the backward pass.
   */
  dropout?: 'mask-input' | 'native';
}

export interface ParamInfo {
  /** Initializer name in the forward model = graph input name in the training graph. */
  name: string;
  shape: number[];
  /** Initial values taken from the forward model. */
  init: Float32Array;
  /** Gradient output name (`grad:<name>`). */
  grad: string;
  /** 'weight' gets weight decay by default; 'bias' and 'norm' (batch-norm scale/shift) do not. */
  kind: 'weight' | 'bias' | 'norm';
}

export interface BufferInfo {
  /** Non-trainable state such as batch-norm running mean/var: an input of the training graph. */
  name: string;
  shape: number[];
  init: Float32Array;
  /** Output of the training graph holding its new value after this batch (`state:<name>`). */
  updated: string;
}

export interface TensorSpec {
  name: string;
  /** TensorProto.DataType */
  elemType: number;
  /** Symbolic batch dimension first (e.g. ['N', 784]). */
  shape: Shape;
}

export interface DropoutMaskSpec {
  /** Graph input name, `dropout_mask:<node name>`. */
  name: string;
  /** Shape with the batch symbol, same as the dropped tensor. */
  shape: Shape;
  ratio: number;
}

export interface TrainingGraph {
  model: ModelProto;
  opset: number;
  /** Trainable parameters, in the order of their `grad:` outputs. */
  params: ParamInfo[];
  buffers: BufferInfo[];
  /** Data inputs (features) and label inputs. */
  inputs: TensorSpec[];
  labels: TensorSpec[];
  dropoutMasks: DropoutMaskSpec[];
  /**
   * Output names. `headNormalizers[k]` (`normalizer:<head>`) is the scalar that head k's summed
   * loss divides by to give PyTorch's mean (label count, element count for mse/bce, Σ w_{y_i} for
   * class-weighted cross-entropy): with reduction 'sum', adding sums and normalizers over
   * micro-batches gives the exact mean of the whole batch. `correct` counts argmax == label for
   * the first cross-entropy head.
   */
  outputs: { loss: string; headLosses: string[]; headNormalizers: string[]; correct?: string; inputGrads: string[] };
  reduction: 'mean' | 'sum';
}

/** Forward + loss in eval mode (no dropout, batch norm on running statistics): loss sum and correct count. */
export interface EvalGraph {
  model: ModelProto;
  params: string[];
  buffers: string[];
  inputs: TensorSpec[];
  labels: TensorSpec[];
  /**
   * `loss` and `headLosses` are sums over the batch (never means), so shards add exactly;
   * `headNormalizers` as in TrainingGraph; `logits` are the heads' forward outputs (predictions).
   */
  outputs: { loss: string; headLosses: string[]; headNormalizers: string[]; correct?: string; logits: string[] };
}
