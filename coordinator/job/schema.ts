/**
 * The job file (`coordinator start --config job.yaml`): every field, its default, and its check.
 * Field names are snake_case in YAML; `loadJob` gives back validated, defaulted values.
 */
import { z } from 'zod';
import { duration } from '../../shared/config/duration.js';
import { datasetConfigSchema } from '../../shared/data/schema.js';
import { searchSchema } from '../search/space.js';
import { augmentSchema } from '../../shared/augment/schema.js';
import { adversarialSchema } from './adversarial.js';

const positiveInt = z.number().int().positive();
const nonNegative = z.number().nonnegative();

export const modelSchema = z
  .object({
    /** 'default' (the bundled MLP), a path to a model spec (.json/.yaml), or an inline spec. */
    spec: z.union([z.string().min(1), z.record(z.string(), z.unknown())]).optional(),
    /** A forward ONNX model (e.g. exported by torch.onnx.export) instead of a spec. */
    onnx: z.string().min(1).optional(),
    loss: z.enum(['cross-entropy', 'mse', 'bce']).default('cross-entropy'),
    logits: z.string().min(1).optional(),
    labels: z.string().min(1).default('labels'),
    freeze: z.string().min(1).optional(),
    label_smoothing: z.number().min(0).max(1).default(0),
    /**
     * The dropout probability of every dropout layer in training, instead of the p each layer
     * was built with. Workers draw the masks with it (and scale kept values to match), so the
     * compiled graph stays the same: search trials can differ in it.
     */
    dropout: z.number().min(0).lt(1).optional(),
    /**
     * Quantization-aware training: weights (per output channel, symmetric int8) and layer inputs
     * (per micro-batch, uint8) pass through fake quantization with a straight-through gradient.
     * `true` is both. The exported model.onnx is the plain float model (shared/quantize/fake-quant.ts).
     */
    qat: z
      .union([z.boolean(), z.object({ weights: z.boolean().default(true), activations: z.boolean().default(true) }).strict()])
      .optional()
      .transform((q) => (q === undefined || q === false ? undefined : q === true ? { weights: true, activations: true } : q))
      .refine((q) => q === undefined || q.weights || q.activations, { error: 'qat needs weights or activations (or both) to quantize' }),
  })
  .strict()
  .refine((m) => !(m.spec !== undefined && m.onnx !== undefined), { error: 'give either spec or onnx, not both' })
  .transform((m) => (m.spec === undefined && m.onnx === undefined ? { ...m, spec: 'default' as const } : m));

export const optimizerSchema = z
  .object({
    kind: z.enum(['sgd', 'momentum', 'nesterov', 'adam', 'adamw']).default('adam'),
    lr: z.number().positive().default(0.001),
    momentum: z.number().min(0).max(1).default(0.9),
    beta1: z.number().min(0).lt(1).default(0.9),
    beta2: z.number().min(0).lt(1).default(0.999),
    eps: z.number().positive().default(1e-8),
    /** L2 (coupled for sgd/momentum/nesterov/adam, decoupled for adamw). */
    weight_decay: nonNegative.default(0),
    l1: nonNegative.default(0),
    /** Parameters whose name matches get no weight decay / L1. Default: biases and norm params. */
    no_decay: z.string().optional(),
    decay_biases: z.boolean().default(false),
  })
  .strict();

export const scheduleSchema = z
  .object({
    kind: z.enum(['constant', 'step', 'cosine']).default('constant'),
    step_size: positiveInt.optional(),
    gamma: z.number().positive().default(0.1),
    min_lr: nonNegative.default(0),
    warmup_steps: z.number().int().nonnegative().default(0),
  })
  .strict()
  .refine((s) => s.kind !== 'step' || s.step_size !== undefined, { error: 'step schedule needs step_size', path: ['step_size'] });

export const clipSchema = z
  .object({
    max_norm: z.number().positive().optional(),
    value: z.number().positive().optional(),
  })
  .strict();

export const evalSchema = z
  .object({
    /** 'epoch' or a number of steps. */
    every: z.union([z.literal('epoch'), positiveInt]).default('epoch'),
    batch: positiveInt.default(500),
    /**
     * When the test split is scored: 'end' once, after training (the default); 'every' also at
     * each periodic evaluation, for learning curves and time-to-accuracy on the test set. Periodic
     * test scores are reported only: early stopping and the best weights follow validation alone.
     */
    test: z.enum(['end', 'every']).default('end'),
  })
  .strict();

export const earlyStoppingSchema = z
  .object({
    monitor: z.enum(['val_loss', 'val_accuracy']).default('val_loss'),
    mode: z.enum(['min', 'max']).optional(),
    patience: z.number().int().nonnegative().default(3),
    min_delta: nonNegative.default(0),
    restore_best: z.boolean().default(true),
  })
  .strict()
  .transform((e) => ({ ...e, mode: e.mode ?? (e.monitor === 'val_loss' ? ('min' as const) : ('max' as const)) }));

export const checkpointSchema = z
  .object({
    every_steps: positiveInt.default(100),
    keep: positiveInt.default(2),
  })
  .strict();

export const workersSchema = z
  .object({
    lease: duration.default(15_000),
    heartbeat: duration.default(2_000),
    /** A job with no workers for this long says so (and keeps waiting, loudly). */
    wait_warning: duration.default(30_000),
    /** onnxruntime intra-op threads on every worker (same everywhere: results stay bit-identical). */
    threads: positiveInt.default(1),
    compression: z.enum(['none', 'fp16', 'int8']).default('none'),
    /**
     * How workers get the dataset. `stream`: the coordinator sends it (GetData). `local`: each
     * worker loads it from the same `data:` config, relative paths against the job file's folder
     * (or `worker start --data-root DIR`, for a shared volume mounted elsewhere), and refuses to
     * train when its copy's SHA-256 differs from the coordinator's.
     */
    data: z.enum(['stream', 'local']).default('stream'),
  })
  .strict();

export const batchSchema = z
  .object({
    global: positiveInt.default(128),
    micro: positiveInt.default(32),
  })
  .strict()
  .refine((b) => b.micro <= b.global, { error: 'micro must be <= global', path: ['micro'] });

/** `ensemble.init` values; `shared` is the default (and what jobs written before the field did). */
export const ENSEMBLE_INIT_MODES = ['shared', 'per_member'] as const;
export type EnsembleInit = (typeof ENSEMBLE_INIT_MODES)[number];

/**
 * Bagging (`ensemble:`): K members, each trained on its own seeded bootstrap sample of the
 * training set (round(sample_fraction·n) indices drawn with replacement), with its own optimizer
 * state, early stopping and run directory (`<run>/members/<k>/`), all scheduled over the one
 * worker pool. Each member is also scored on its out-of-bag samples (those its bootstrap never
 * drew). The ensemble predicts by averaging the members' probabilities (`average`) or by
 * majority vote of their argmax classes (`vote`) and is exported as one ONNX model,
 * `<run>/model.onnx`.
 *
 * Initial weights (`init`): `shared` starts every member from the job's initial weights (the
 * model initialised with the job's seed), so members differ only by their bootstrap sample and
 * their permutation and dropout streams (Breiman's bagging). `per_member` draws member k's
 * weights from the model spec with member k's own seed (coordinator/run/ensemble-init.ts); a
 * model given as an ONNX file brings its initial weights as initializers and cannot be redrawn.
 *
 * ```yaml
 * ensemble: { members: 5, sample_fraction: 1.0, seed: 7, predict: average, init: shared }
 * ```
 */
export const ensembleSchema = z
  .object({
    /** Number of members K (at least 2: one member is a plain job on a bootstrap sample). */
    members: z.number().int().min(2).max(256),
    /** Bootstrap sample size as a fraction of the training set: 1 is the classic bootstrap, < 1 subsamples. */
    sample_fraction: z.number().gt(0).max(1).default(1),
    /** Seed of the bootstrap samples and of each member's permutations and dropout masks (default: the job's seed). */
    seed: z.number().int().min(-(2 ** 31)).lt(2 ** 32).optional(),
    /** How the exported ensemble combines its members. */
    predict: z.enum(['average', 'vote']).default('average'),
    /** Members' initial weights: the job's, shared by all (`shared`), or drawn with each member's seed (`per_member`). */
    init: z.enum(ENSEMBLE_INIT_MODES).default('shared'),
  })
  .strict();

export const jobSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9._-]+$/, { error: 'must be letters, digits, ., _ or -' }).default('job'),
    seed: z.number().int().default(42),
    run_dir: z.string().min(1).optional(),
    model: modelSchema.prefault({ spec: 'default' }),
    data: datasetConfigSchema.prefault({ source: 'digits' }),
    batch: batchSchema.prefault({}),
    epochs: positiveInt.default(10),
    max_steps: positiveInt.optional(),
    optimizer: optimizerSchema.prefault({}),
    schedule: scheduleSchema.prefault({}),
    clip: clipSchema.default({}),
    eval: evalSchema.prefault({}),
    early_stopping: earlyStoppingSchema.optional(),
    ensemble: ensembleSchema.optional(),
    /** Hyperparameter search (coordinator/search/): trials of this job with other hyperparameters, over the same worker pool. */
    search: searchSchema.optional(),
    /** Data augmentation of training samples, on the workers (shared/augment/). */
    augment: augmentSchema.optional(),
    /** Adversarial training and evaluation (coordinator/job/adversarial.ts). */
    adversarial: adversarialSchema.optional(),
    checkpoint: checkpointSchema.prefault({}),
    workers: workersSchema.prefault({}),
    max_consecutive_skips: positiveInt.default(5),
  })
  .strict()
  // An ONNX model's initializers are its initial weights: there is no spec to draw others from.
  .refine((j) => !(j.search && j.ensemble), { error: 'a job is either a search or a bagging ensemble; search trials of an ensemble are not supported', path: ['search'] })
  .refine((j) => !(j.ensemble?.init === 'per_member' && j.model.onnx !== undefined), {
    error: `must be "shared" with an ONNX model (model.onnx): its initializers are the initial weights; per_member draws them from a model spec`,
    path: ['ensemble', 'init'],
  });

export type JobConfig = z.output<typeof jobSchema>;
export type JobInput = z.input<typeof jobSchema>;
export type EnsembleConfig = z.output<typeof ensembleSchema>;
