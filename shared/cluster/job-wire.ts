/**
 * The job as a worker receives it: a JSON metadata record (graph contracts without weights,
 * dataset shape, transfer settings) plus the two graphs' ONNX bytes. The coordinator builds it
 * from its compiled graphs; the worker turns it back into TrainingGraph / EvalGraph objects the
 * engine runs. Initial values never travel here: parameters come from GetParams at a version.
 */
import type { EvalGraph, TrainingGraph, ParamInfo, BufferInfo } from '../autodiff/compile-types.js';
import type { Dataset } from '../data/dataset.js';
import type { DatasetConfig } from '../data/schema.js';
import { decodeModel, encodeModel } from '../onnx/model.js';
import type { CodecName } from '../tensor/index.js';
import { JobMetadataError } from './errors.js';
import type { ExpectedTensor } from './tensor-stream.js';
import type { AugmentConfig } from '../augment/schema.js';
import type { AttackSpec } from '../adversarial/attack-spec.js';
import type { AttackGraph } from '../autodiff/compile-attack.js';

export type ParamMeta = Omit<ParamInfo, 'init'>;
export type BufferMeta = Omit<BufferInfo, 'init'>;
export type TrainingGraphMeta = Omit<TrainingGraph, 'model' | 'params' | 'buffers'> & { params: ParamMeta[]; buffers: BufferMeta[] };
export type EvalGraphMeta = Omit<EvalGraph, 'model'>;
export type AttackGraphMeta = Omit<AttackGraph, 'model'>;

/** What workers do adversarially (the job's `adversarial:` block, resolved). */
export interface AdversarialMeta {
  /** Adversarial training: the attack, and the share of each micro-batch its examples replace. Absent: clean training. */
  train?: { attack: AttackSpec; ratio: number };
  /** Attacks scored on every validation and test shard, their figures in this order (FGSM, PGD); empty: none. */
  evaluate: AttackSpec[];
  /** Seed of the evaluation attacks' random starts (with each sample's index). */
  seed: number;
}

export interface DatasetMeta {
  name: string;
  size: number;
  featureShape: number[];
  numClasses: number | undefined;
  targetWidth: number;
  /** Element type of the labels array: class indices or regression targets. */
  labels: 'int32' | 'float32';
  /** Present with `workers.data: local`: the worker loads the data itself and GetData is refused. */
  readLocally?: LocalDataSpec;
}

/**
 * How a worker builds the job's dataset itself (shared/data/job-dataset.ts's prepareJobData),
 * and what it must come out as.
 */
export interface LocalDataSpec {
  /** The job's `data:` section as validated; relative paths in it resolve against `baseDir`. */
  config: DatasetConfig;
  /** The folder the coordinator resolved relative paths against (absolute; a worker's --data-root replaces it). */
  baseDir: string;
  /** The job's seed (the split's, when split.seed is unset). */
  seed: number;
  /** datasetFingerprint of the combined dataset the coordinator built: a worker whose copy differs refuses to train. */
  sha256: string;
}

/** A job's dataset as the coordinator holds it, and, when workers read it themselves, how. */
export type WireDataset = Dataset & { readonly readLocally?: LocalDataSpec };

export interface JobMetadata {
  jobId: string;
  name: string;
  /** Codec of gradient and parameter transfers. */
  compression: CodecName;
  /** onnxruntime intra-op threads every worker uses (results stay bit-identical across workers). */
  threads: number;
  /** Payload bound of a tensor chunk in bytes. */
  chunkBytes: number;
  /** Micro-batches in a training step: a task is at most this many (workers size their memory by it). */
  microbatchesPerStep: number;
  train: TrainingGraphMeta;
  eval: EvalGraphMeta;
  dataset: DatasetMeta;
  /** The job's `augment:` block: workers augment training samples with it (shared/augment/). */
  augment?: AugmentConfig;
  adversarial?: AdversarialMeta;
  /** With adversarial evaluation: the graph the attacks differentiate (inference mode, grad:<input>). */
  attack?: AttackGraphMeta;
}

/** Everything GetJob sends: metadata, then the graphs' bytes. */
export interface JobPackage {
  metadata: JobMetadata;
  trainModel: Uint8Array;
  evalModel: Uint8Array;
  /** Present when the metadata has `attack`. */
  attackModel?: Uint8Array;
}

export function trainingGraphMeta(g: TrainingGraph): TrainingGraphMeta {
  const { model: _model, params, buffers, ...rest } = g;
  return { ...rest, params: params.map(({ init: _init, ...p }) => p), buffers: buffers.map(({ init: _init, ...b }) => b) };
}

export function evalGraphMeta(g: EvalGraph): EvalGraphMeta {
  const { model: _model, ...rest } = g;
  return rest;
}

export function datasetMeta(d: WireDataset): DatasetMeta {
  const meta: DatasetMeta = { name: d.name, size: d.size, featureShape: [...d.featureShape], numClasses: d.numClasses, targetWidth: d.targetWidth, labels: d.labels instanceof Int32Array ? 'int32' : 'float32' };
  return d.readLocally ? { ...meta, readLocally: d.readLocally } : meta;
}

export function packageJob(metadata: Omit<JobMetadata, 'train' | 'eval' | 'attack'>, training: TrainingGraph, evaluation: EvalGraph, attack?: AttackGraph): JobPackage {
  const pkg: JobPackage = {
    metadata: { ...metadata, train: trainingGraphMeta(training), eval: evalGraphMeta(evaluation) },
    trainModel: encodeModel(training.model),
    evalModel: encodeModel(evaluation.model),
  };
  if (attack) {
    const { model, ...meta } = attack;
    pkg.metadata.attack = meta;
    pkg.attackModel = encodeModel(model);
  }
  return pkg;
}

/** The attack graph as the engine needs it, from the job's metadata and bytes. */
export function attackGraphFrom(meta: AttackGraphMeta, modelBytes: Uint8Array): AttackGraph {
  if (!Array.isArray(meta?.params) || !Array.isArray(meta.buffers)) throw new JobMetadataError("job metadata lacks the attack graph's params or buffers");
  return { ...meta, model: decodeGraph(modelBytes, 'attack') };
}

const size = (shape: readonly number[]) => shape.reduce((a, d) => a * d, 1);

/**
 * The training graph as the engine needs it. `init` holds zeros of the right length (the runner
 * checks lengths against it); the real values arrive with the first GetParams.
 */
export function trainingGraphFrom(meta: TrainingGraphMeta, modelBytes: Uint8Array): TrainingGraph {
  if (!Array.isArray(meta?.params) || !Array.isArray(meta.buffers)) throw new JobMetadataError('job metadata lacks the training graph\'s params or buffers');
  return {
    ...meta,
    model: decodeGraph(modelBytes, 'train'),
    params: meta.params.map((p) => ({ ...p, init: new Float32Array(size(p.shape)) })),
    buffers: meta.buffers.map((b) => ({ ...b, init: new Float32Array(size(b.shape)) })),
  };
}

export function evalGraphFrom(meta: EvalGraphMeta, modelBytes: Uint8Array): EvalGraph {
  if (!Array.isArray(meta?.params) || !Array.isArray(meta.buffers)) throw new JobMetadataError('job metadata lacks the eval graph\'s params or buffers');
  return { ...meta, model: decodeGraph(modelBytes, 'eval') };
}

function decodeGraph(bytes: Uint8Array, which: string): TrainingGraph['model'] {
  if (bytes.length === 0) throw new JobMetadataError(`the job carries no ${which} graph`);
  try {
    return decodeModel(bytes);
  } catch (e) {
    throw new JobMetadataError(`the ${which} graph does not decode as an ONNX model: ${(e as Error).message}`);
  }
}

/** The tensors of a parameter transfer: params in graph order, then buffers. */
export function paramsLayout(g: TrainingGraphMeta): ExpectedTensor[] {
  return [...g.params.map((p) => ({ name: p.name, role: 'parameter', length: size(p.shape) })), ...g.buffers.map((b) => ({ name: b.name, role: 'buffer', length: size(b.shape) }))];
}

/** The tensors of a training result: one gradient per param, then each buffer's updated value. */
export function trainResultLayout(g: TrainingGraphMeta): ExpectedTensor[] {
  return [...g.params.map((p) => ({ name: p.name, role: 'gradient of parameter', length: size(p.shape) })), ...g.buffers.map((b) => ({ name: b.name, role: 'updated buffer', length: size(b.shape) }))];
}
