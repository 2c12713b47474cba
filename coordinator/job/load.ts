/**
 * From a job file to everything the coordinator serves: validated config → forward model (a
 * model spec or an ONNX file) → training graph (loss and gradients as sums over the batch, so
 * micro-batches add up exactly; dropout masks as inputs, so results do not depend on the worker)
 * and eval graph → dataset, split into train/validation/test index sets over one sample array.
 *
 *   job.yaml ─► JobConfig ─► forward ONNX ─► compileTraining / compileEval
 *                       └──► dataset source ─► split ─► one dataset + three index sets
 *                                (shared/data/job-dataset.ts: workers with `workers.data: local` call it too)
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { validate, ConfigError } from '../../shared/config/validation.js';
import { compileTraining } from '../../shared/autodiff/compile.js';
import { compileEval } from '../../shared/autodiff/eval.js';
import type { EvalGraph, HeadSpec, TensorSpec, TrainingGraph } from '../../shared/autodiff/compile-types.js';
import { readModel, type ModelProto } from '../../shared/onnx/model.js';
import { buildForwardModel } from '../../shared/model/build.js';
import { loadModelSpec } from '../../shared/model/load.js';
import { defaultModelSpec } from '../../shared/model/defaults.js';
import type { ModelSpec, ModelSpecInput } from '../../shared/model/spec.js';
import { prepareJobData } from '../../shared/data/job-dataset.js';
import { datasetFingerprint } from '../../shared/data/fingerprint.js';
import type { WireDataset } from '../../shared/cluster/job-wire.js';
import { confinePath, jobPathPolicy, type PathPolicy } from '../../shared/security/paths.js';
import { jobSchema, type JobConfig, type JobInput } from './schema.js';
import { evaluationAttacks, trainingAttack } from './adversarial.js';
import { compileAttack, type AttackGraph } from '../../shared/autodiff/compile-attack.js';
import { planAugmentation } from '../../shared/augment/augment.js';
import { DT } from '../../shared/onnx/tensor.js';
import { withFakeQuant } from '../../shared/quantize/fake-quant.js';

export interface LoadedJob {
  config: JobConfig;
  /** Where the job came from: a file path or 'embedded default job'. */
  source: string;
  /** Relative paths in the job (model, data) resolve against this folder. */
  baseDir: string;
  /**
   * Where the job's files may lie (shared/security/paths.ts): the job's folder, --allow-dir,
   * $GRADFLEET_ALLOWED_DIRS, /usr/share/datasets. Absent: jobPathPolicy(baseDir).
   */
  paths?: PathPolicy;
  forward: ModelProto;
  heads: HeadSpec[];
  training: TrainingGraph;
  evaluation: EvalGraph;
  /** With adversarial evaluation: the inference-mode graph with grad:<input> the attacks differentiate. */
  attack?: AttackGraph;
  /**
   * Every sample the job uses (training data, then a separate test set if the source has one).
   * With `workers.data: local` it also says how workers load it themselves (see WireDataset).
   */
  dataset: WireDataset;
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

export interface LoadJobOptions {
  /** Folders besides the job's own that its files may lie in (`coordinator start --allow-dir`). */
  allowDirs?: readonly string[];
  /** ONNX files larger than this are refused (default: shared/onnx/check.ts DEFAULT_MAX_MODEL_BYTES). */
  maxModelBytes?: number;
}

/**
 * Builds the model, compiles both graphs and prepares the data. Every file the job names must lie
 * under the job's folder or an allowed one (PathPolicyError naming the field otherwise), and an
 * ONNX model must pass the checks of shared/onnx/check.ts before it is compiled.
 */
export async function loadJob(config: JobConfig, source: string, baseDir: string, options: LoadJobOptions = {}): Promise<LoadedJob> {
  const paths = jobPathPolicy(baseDir, options.allowDirs);
  const { forward, heads } = forwardModel(config, baseDir, paths, options.maxModelBytes);
  const freeze = config.model.freeze === undefined ? undefined : new RegExp(config.model.freeze);
  const correct = heads.some((h) => h.loss === 'cross-entropy');
  // Quantization-aware training trains and scores the fake-quantized model; the export is the plain forward's.
  const trained = config.model.qat ? withFakeQuant(forward, config.model.qat) : forward;
  const evaluation = compileEval(trained, { heads, freeze, correct });
  const adversarial = config.adversarial;
  // Adversarial training reads the training graph's grad:<input>; adversarial evaluation its own inference-mode graph.
  const input = adversarial ? attackableInput(evaluation.inputs, heads, source) : undefined;
  const inputGradients = adversarial && trainingAttack(adversarial) && input ? [input] : undefined;
  const training = compileTraining(trained, { heads, freeze, reduction: 'sum', dropout: 'mask-input', correct, ...(inputGradients ? { inputGradients } : {}) });
  const attack = adversarial && evaluationAttacks(adversarial).length > 0 ? compileAttack(trained, { heads, ...(freeze ? { freeze } : {}) }) : undefined;
  const searchesDropout = config.search?.params.some((p) => p.path === 'model.dropout') ?? false;
  if ((config.model.dropout !== undefined || searchesDropout) && training.dropoutMasks.length === 0) {
    throw new ConfigError(source, [`${config.model.dropout !== undefined ? 'model.dropout' : 'search.params.model.dropout'}: the model has no dropout layer to set the probability of`]);
  }
  const data = await prepareJobData(config.data, { baseDir, paths }, config.seed);
  if (config.augment) {
    // A shape that is not an image fails here, naming augment.image_shape, not on every worker.
    try {
      planAugmentation(config.augment, data.dataset.featureShape);
    } catch (e) {
      throw new ConfigError(source, [(e as Error).message]);
    }
    if (training.inputs[0]?.elemType !== DT.FLOAT) throw new ConfigError(source, ['augment: the model reads token ids (int64), not images: there is nothing to augment']);
  }
  // Workers that read the data themselves get the recipe and the fingerprint of what it must give.
  const dataset: WireDataset =
    config.workers.data === 'local' ? { ...data.dataset, readLocally: { config: config.data, baseDir: resolve(baseDir), seed: config.seed, sha256: datasetFingerprint(data.dataset) } } : data.dataset;
  return { config, source, baseDir, paths, forward, heads, training, evaluation, ...(attack ? { attack } : {}), ...data, dataset };
}

/**
 * The job's model spec (the default MLP, a spec file relative to `baseDir`, or the inline spec)
 * and where it came from; undefined for a model given as an ONNX file.
 */
export function jobModelSpec(config: JobConfig, baseDir: string, paths: PathPolicy = jobPathPolicy(baseDir)): { spec: ModelSpecInput | ModelSpec; from: string } | undefined {
  const m = config.model;
  if (m.onnx !== undefined) return undefined;
  if (m.spec === 'default' || m.spec === undefined) return { spec: defaultModelSpec(config.seed), from: 'the default model' };
  if (typeof m.spec === 'string') {
    const path = confinePath('model.spec', m.spec, paths);
    return { spec: loadModelSpec(path), from: path };
  }
  return { spec: { seed: config.seed, ...m.spec } as ModelSpecInput, from: 'model.spec' };
}

/** The forward ONNX model and its loss heads, from a model spec (default, file or inline) or an ONNX file. */
function forwardModel(config: JobConfig, baseDir: string, paths: PathPolicy, maxModelBytes: number | undefined): { forward: ModelProto; heads: HeadSpec[] } {
  const m = config.model;
  if (m.onnx !== undefined) {
    const forward = readModel(confinePath('model.onnx', m.onnx, paths), maxModelBytes === undefined ? {} : { maxBytes: maxModelBytes });
    const outputs = forward.graph?.output.map((o) => o.name) ?? [];
    const logits = m.logits ?? (outputs.length === 1 ? outputs[0]! : undefined);
    if (logits === undefined) throw new ConfigError('job', [`model.logits must name the output the loss reads; ${m.onnx} has outputs ${outputs.join(', ') || '(none)'}`]);
    return { forward, heads: [{ name: logits, logits, labels: m.labels, loss: m.loss, labelSmoothing: m.label_smoothing }] };
  }
  const { spec } = jobModelSpec(config, baseDir, paths)!;
  // The job's seed decides initialisation, like everything else that must reproduce.
  const built = buildForwardModel(spec, { seed: config.seed });
  const heads = m.label_smoothing > 0 ? built.heads.map((h) => (h.loss === 'cross-entropy' ? { ...h, labelSmoothing: m.label_smoothing } : h)) : built.heads;
  return { forward: built.model, heads };
}

/**
 * The one float data input an attack perturbs: adversarial examples need a classification model
 * (cross-entropy: accuracy under attack) reading one float tensor (not token ids).
 */
function attackableInput(inputs: readonly TensorSpec[], heads: readonly HeadSpec[], source: string): string {
  if (!heads.some((h) => h.loss === 'cross-entropy')) throw new ConfigError(source, ['adversarial: needs a classification model (a cross-entropy loss): accuracy under attack is what it reports']);
  if (inputs.length !== 1) throw new ConfigError(source, [`adversarial: the model has ${inputs.length} data inputs (${inputs.map((i) => i.name).join(', ')}); attacks perturb exactly one`]);
  if (inputs[0]!.elemType !== DT.FLOAT) throw new ConfigError(source, [`adversarial: the model's input '${inputs[0]!.name}' is not float32 (token ids cannot be perturbed)`]);
  return inputs[0]!.name;
}
