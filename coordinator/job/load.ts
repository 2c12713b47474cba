/**
 * From a job file to everything the coordinator serves: validated config → forward model (a
 * model spec or an ONNX file) → training graph (loss and gradients as sums over the batch, so
 * micro-batches add up exactly; dropout masks as inputs, so results do not depend on the worker)
 * and eval graph → dataset, split into train/validation/test index sets over one sample array.
 *
 *   job.yaml ─► JobConfig ─► forward ONNX ─► compileTraining / compileEval
 *                       └──► dataset source ─► split ─► one dataset + three index sets
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { validate, ConfigError } from '../../shared/config/validation.js';
import { compileTraining } from '../../shared/autodiff/compile.js';
import { compileEval } from '../../shared/autodiff/eval.js';
import type { EvalGraph, HeadSpec, TrainingGraph } from '../../shared/autodiff/compile-types.js';
import { readModel, type ModelProto } from '../../shared/onnx/model.js';
import { buildForwardModel } from '../../shared/model/build.js';
import { loadModelSpec } from '../../shared/model/load.js';
import { defaultModelSpec } from '../../shared/model/defaults.js';
import type { ModelSpec, ModelSpecInput } from '../../shared/model/spec.js';
import { prepareData } from '../../shared/data/registry.js';
import type { Dataset } from '../../shared/data/dataset.js';
import type { SplitData } from '../../shared/data/split.js';
import { jobSchema, type JobConfig, type JobInput } from './schema.js';

export interface LoadedJob {
  config: JobConfig;
  /** Where the job came from: a file path or 'embedded default job'. */
  source: string;
  /** Relative paths in the job (model, data) resolve against this folder. */
  baseDir: string;
  forward: ModelProto;
  heads: HeadSpec[];
  training: TrainingGraph;
  evaluation: EvalGraph;
  /** Every sample the job uses (training data, then a separate test set if the source has one). */
  dataset: Dataset;
  trainIndices: Uint32Array;
  validationIndices: Uint32Array;
  testIndices: Uint32Array;
}

/** A job file's config, validated; errors name the field, the bad value and the line. */
export function readJobFile(path: string): { config: JobConfig; baseDir: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(path, [`cannot read the job file: ${(e as Error).message}`]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (e) {
    throw new ConfigError(path, [`not valid YAML: ${(e as Error).message}`]);
  }
  return { config: validate(jobSchema, raw, path, text), baseDir: dirname(resolve(path)) };
}

/** A job given as an object (tests, the embedded default), validated the same way. */
export function parseJob(input: JobInput | unknown, source: string): JobConfig {
  return validate(jobSchema, input, source);
}

/** Builds the model, compiles both graphs and prepares the data. */
export async function loadJob(config: JobConfig, source: string, baseDir: string): Promise<LoadedJob> {
  const { forward, heads } = forwardModel(config, baseDir);
  const freeze = config.model.freeze === undefined ? undefined : new RegExp(config.model.freeze);
  const correct = heads.some((h) => h.loss === 'cross-entropy');
  const training = compileTraining(forward, { heads, freeze, reduction: 'sum', dropout: 'mask-input', correct });
  const evaluation = compileEval(forward, { heads, freeze, correct });
  const split = await prepareData(config.data, { baseDir }, config.seed);
  return { config, source, baseDir, forward, heads, training, evaluation, ...onOneDataset(split) };
}

/** The forward ONNX model and its loss heads, from a model spec (default, file or inline) or an ONNX file. */
function forwardModel(config: JobConfig, baseDir: string): { forward: ModelProto; heads: HeadSpec[] } {
  const m = config.model;
  if (m.onnx !== undefined) {
    const forward = readModel(resolve(baseDir, m.onnx));
    const outputs = forward.graph?.output.map((o) => o.name) ?? [];
    const logits = m.logits ?? (outputs.length === 1 ? outputs[0]! : undefined);
    if (logits === undefined) throw new ConfigError('job', [`model.logits must name the output the loss reads; ${m.onnx} has outputs ${outputs.join(', ') || '(none)'}`]);
    return { forward, heads: [{ name: logits, logits, labels: m.labels, loss: m.loss, labelSmoothing: m.label_smoothing }] };
  }
  const spec: ModelSpecInput | ModelSpec =
    m.spec === 'default' || m.spec === undefined
      ? defaultModelSpec(config.seed)
      : typeof m.spec === 'string'
        ? loadModelSpec(resolve(baseDir, m.spec))
        : ({ seed: config.seed, ...m.spec } as ModelSpecInput);
  // The job's seed decides initialisation, like everything else that must reproduce.
  const built = buildForwardModel(spec, { seed: config.seed });
  const heads = m.label_smoothing > 0 ? built.heads.map((h) => (h.loss === 'cross-entropy' ? { ...h, labelSmoothing: m.label_smoothing } : h)) : built.heads;
  return { forward: built.model, heads };
}

/**
 * Workers receive one sample array. When the source has its own test set, it is appended to the
 * training data and the test indices shifted past it.
 */
function onOneDataset(split: SplitData): Pick<LoadedJob, 'dataset' | 'trainIndices' | 'validationIndices' | 'testIndices'> {
  const train = split.train.dataset;
  const test = split.test.dataset;
  if (split.validation.dataset !== train) throw new Error('the validation part must come from the training data');
  if (test === train) return { dataset: train, trainIndices: split.train.indices, validationIndices: split.validation.indices, testIndices: split.test.indices };
  const dataset = concatDatasets(train, test);
  return { dataset, trainIndices: split.train.indices, validationIndices: split.validation.indices, testIndices: split.test.indices.map((i) => i + train.size) };
}

function concatDatasets(a: Dataset, b: Dataset): Dataset {
  const same = a.featureShape.length === b.featureShape.length && a.featureShape.every((d, i) => d === b.featureShape[i]);
  if (!same || a.targetWidth !== b.targetWidth || a.labels.constructor !== b.labels.constructor)
    throw new Error(`the test set '${b.name}' [${b.featureShape}] does not match the training set '${a.name}' [${a.featureShape}]`);
  const features = new Float32Array(a.features.length + b.features.length);
  features.set(a.features);
  features.set(b.features, a.features.length);
  const labels = a.labels instanceof Int32Array ? new Int32Array(a.labels.length + b.labels.length) : new Float32Array(a.labels.length + b.labels.length);
  labels.set(a.labels);
  labels.set(b.labels, a.labels.length);
  const numClasses = a.numClasses === undefined ? undefined : Math.max(a.numClasses, b.numClasses ?? 0);
  return { ...a, name: a.name, size: a.size + b.size, numClasses, features, labels };
}
