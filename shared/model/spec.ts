/**
 * The declarative model spec (read from JSON or YAML) and its zod 4 schema.
 *
 * A spec is an input, a trunk of layers, optional heads (multi-task) and a seed:
 *
 * ```yaml
 * input: { shape: [784] }
 * layers:
 *   - { type: dense, units: 256, activation: relu }
 *   - { type: dropout, p: 0.2 }
 *   - { type: dense, units: 10 }
 * seed: 1
 * ```
 *
 * The schema checks each field on its own; cross-field rules (shapes fit, share targets exist,
 * heads read from real layers) are checked by planModel (plan.ts). Both report errors as
 * "`layers[2].units` must be a positive integer, got -3".
 */
import { z } from 'zod';
import type { SpecIssue } from './errors.js';
import { formatPath } from './errors.js';

const positiveInt = (what = 'a positive integer') => z.number({ error: `must be ${what}` }).int({ error: `must be ${what}` }).positive({ error: `must be ${what}` });
const nonNegativeInt = z.number({ error: 'must be a non-negative integer' }).int({ error: 'must be a non-negative integer' }).min(0, { error: 'must be a non-negative integer' });

/** Names end up in initializer and output names (`<layer>.weight`, `logits:<head>`), so no dots or colons. */
const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const name = z.string({ error: 'must be a name (letters, digits, _ and -, not starting with a digit)' }).regex(NAME_PATTERN, { error: 'must be a name (letters, digits, _ and -, not starting with a digit)' });

/** Either one positive integer for both spatial axes or a pair [h, w]. */
const intOrPair = z.union([positiveInt(), z.tuple([positiveInt(), positiveInt()])], { error: 'must be a positive integer or a pair [h, w] of them' });

/** Explicit pads: one for all sides, [h, w], or [top, left, bottom, right]; or 'same' / 'valid'. */
const padding = z.union([nonNegativeInt, z.tuple([nonNegativeInt, nonNegativeInt]), z.tuple([nonNegativeInt, nonNegativeInt, nonNegativeInt, nonNegativeInt]), z.enum(['same', 'valid'])], {
  error: "must be a non-negative integer, [h, w], [top, left, bottom, right], 'same' or 'valid'",
});

export const INIT_SCHEMES = ['xavier_normal', 'xavier_uniform', 'he_normal', 'he_uniform'] as const;
export type InitScheme = (typeof INIT_SCHEMES)[number];
const initScheme = z.enum(INIT_SCHEMES, { error: `must be one of ${INIT_SCHEMES.join(', ')}` });

export const ACTIVATIONS = ['relu', 'leaky_relu', 'tanh', 'sigmoid', 'gelu', 'softmax'] as const;
export type ActivationType = (typeof ACTIVATIONS)[number];

export const LOSSES = ['cross-entropy', 'mse', 'bce'] as const;
const loss = z.enum(LOSSES, { error: `must be one of ${LOSSES.join(', ')}` });

const base = { name: name.optional() };
const shareFields = {
  /** Name of an earlier dense, conv2d or embedding layer whose weight this layer uses. */
  share: name.optional(),
};

/**
 * A hashed dense layer (HashedNets): the weight matrix is not stored; each of its positions reads
 * one of `buckets` trainable values through a fixed hash, with a ±1 sign hash (shared/model/hashed.ts).
 */
export const hashedSchema = z.strictObject({
  /** Number of trainable values the in×out weights share. */
  buckets: positiveInt(),
  /** Picks the two hash functions (the same seed gives the same hashes). */
  seed: z.number({ error: 'must be an integer' }).int({ error: 'must be an integer' }).default(0),
});

const dense = z.strictObject({
  type: z.literal('dense'),
  ...base,
  /** Optional when sharing: taken from the shared weight. */
  units: positiveInt().optional(),
  bias: z.boolean({ error: 'must be true or false' }).default(true),
  activation: z.enum([...ACTIVATIONS, 'none'], { error: `must be one of ${[...ACTIVATIONS, 'none'].join(', ')}` }).default('none'),
  init: initScheme.optional(),
  ...shareFields,
  /** With share: use the transpose of the shared weight (tied autoencoder decoder). */
  transpose: z.boolean({ error: 'must be true or false' }).default(false),
  /** Hashed weights: a table of `buckets` values stands for the [in, out] weight matrix. */
  hashed: hashedSchema.optional(),
});

const conv2d = z.strictObject({
  type: z.literal('conv2d'),
  ...base,
  filters: positiveInt().optional(),
  kernel: intOrPair.optional(),
  stride: intOrPair.default(1),
  padding: padding.default(0),
  dilation: intOrPair.default(1),
  groups: positiveInt().default(1),
  bias: z.boolean({ error: 'must be true or false' }).default(true),
  activation: z.enum([...ACTIVATIONS, 'none'], { error: `must be one of ${[...ACTIVATIONS, 'none'].join(', ')}` }).default('none'),
  init: initScheme.optional(),
  ...shareFields,
});

const pool = {
  ...base,
  kernel: intOrPair,
  /** Defaults to the kernel size, as in PyTorch. */
  stride: intOrPair.optional(),
  padding: padding.default(0),
};
const maxpool2d = z.strictObject({ type: z.literal('maxpool2d'), ...pool });
const avgpool2d = z.strictObject({
  type: z.literal('avgpool2d'),
  ...pool,
  /** Whether padded cells count in the average (ONNX default: no). */
  count_include_pad: z.boolean({ error: 'must be true or false' }).default(false),
});
/** Mean over H and W, giving [C] per sample (as Keras' GlobalAveragePooling2D). */
const globalAvgPool = z.strictObject({ type: z.literal('global_avg_pool'), ...base });
const flatten = z.strictObject({ type: z.literal('flatten'), ...base });
const reshape = z.strictObject({
  type: z.literal('reshape'),
  ...base,
  /** Per-sample shape (the batch dimension is kept); one entry may be -1. */
  shape: z.array(z.union([positiveInt(), z.literal(-1)], { error: 'must be a positive integer or -1' }), { error: 'must be a list of dimensions' }).min(1, { error: 'must list at least one dimension' }),
});
const dropout = z.strictObject({
  type: z.literal('dropout'),
  ...base,
  p: z.number({ error: 'must be a probability in [0, 1)' }).min(0, { error: 'must be a probability in [0, 1)' }).lt(1, { error: 'must be a probability in [0, 1)' }),
});
const batchNorm = z.strictObject({
  type: z.literal('batch_norm'),
  ...base,
  /** ONNX/Keras sense: running = momentum·running + (1 − momentum)·batch (PyTorch's 0.1 is 0.9 here). */
  momentum: z.number({ error: 'must be a number in (0, 1)' }).gt(0, { error: 'must be a number in (0, 1)' }).lt(1, { error: 'must be a number in (0, 1)' }).default(0.9),
  eps: z.number({ error: 'must be a positive number' }).positive({ error: 'must be a positive number' }).default(1e-5),
});
const plainActivation = <T extends string>(t: T) => z.strictObject({ type: z.literal(t), ...base });
const leakyRelu = z.strictObject({
  type: z.literal('leaky_relu'),
  ...base,
  alpha: z.number({ error: 'must be a non-negative number' }).min(0, { error: 'must be a non-negative number' }).default(0.01),
});
const softmax = z.strictObject({ type: z.literal('softmax'), ...base, axis: z.number({ error: 'must be an integer' }).int({ error: 'must be an integer' }).default(-1) });
const embedding = z.strictObject({
  type: z.literal('embedding'),
  ...base,
  vocab: positiveInt().optional(),
  dim: positiveInt().optional(),
  init: initScheme.optional(),
  ...shareFields,
});

const layerSchemas = {
  dense,
  conv2d,
  maxpool2d,
  avgpool2d,
  global_avg_pool: globalAvgPool,
  flatten,
  reshape,
  dropout,
  batch_norm: batchNorm,
  relu: plainActivation('relu'),
  leaky_relu: leakyRelu,
  tanh: plainActivation('tanh'),
  sigmoid: plainActivation('sigmoid'),
  gelu: plainActivation('gelu'),
  softmax,
  embedding,
} as const;

/** Every layer type the spec knows, in the order error messages list them. */
export const LAYER_TYPES = Object.keys(layerSchemas) as LayerType[];
export type LayerType = keyof typeof layerSchemas;

export const layerSchema = z.discriminatedUnion('type', [
  dense,
  conv2d,
  maxpool2d,
  avgpool2d,
  globalAvgPool,
  flatten,
  reshape,
  dropout,
  batchNorm,
  layerSchemas.relu,
  leakyRelu,
  layerSchemas.tanh,
  layerSchemas.sigmoid,
  layerSchemas.gelu,
  softmax,
  embedding,
]);

export type LayerSpec = z.output<typeof layerSchema>;
export type LayerSpecInput = z.input<typeof layerSchema>;
export type LayerOf<T extends LayerType> = Extract<LayerSpec, { type: T }>;

const headLossFields = {
  /** Graph input that holds this head's labels (default `labels`, or `labels:<head>` with several heads). */
  labels: name.optional(),
  label_smoothing: z.number({ error: 'must be a number in [0, 1)' }).min(0, { error: 'must be a number in [0, 1)' }).lt(1, { error: 'must be a number in [0, 1)' }).optional(),
  class_weights: z.array(z.number({ error: 'must be a non-negative number' }).min(0, { error: 'must be a non-negative number' }), { error: 'must be a list of numbers' }).min(1, { error: 'must not be empty' }).optional(),
};

export const headSchema = z.strictObject({
  name,
  /** Trunk layer this head reads (default: the trunk's last layer). */
  from: name.optional(),
  layers: z.array(layerSchema, { error: 'must be a list of layers' }).default([]),
  loss: loss.default('cross-entropy'),
  weight: z.number({ error: 'must be a positive number' }).positive({ error: 'must be a positive number' }).default(1),
  ...headLossFields,
});
export type HeadSpecInput = z.input<typeof headSchema>;
export type ModelHeadSpec = z.output<typeof headSchema>;

export const inputSchema = z.strictObject({
  name: name.default('x'),
  /** Shape of one sample, without the batch dimension: [784], [1, 28, 28], or [L] token ids. */
  shape: z.array(positiveInt(), { error: 'must be a list of positive integers' }).min(1, { error: 'must list at least one dimension' }),
  type: z.enum(['float', 'int64'], { error: "must be 'float' or 'int64'" }).default('float'),
});

export const initSchema = z.strictObject({
  /** 'auto': He before relu/leaky_relu, Xavier (normal) otherwise. */
  weights: z.enum([...INIT_SCHEMES, 'auto'], { error: `must be one of auto, ${INIT_SCHEMES.join(', ')}` }).default('auto'),
  /** Constant for every bias (the lecture's zeros by default). */
  bias: z.number({ error: 'must be a number' }).default(0),
});

export const modelSpecSchema = z.strictObject({
  name: z.string({ error: 'must be a string' }).optional(),
  input: inputSchema,
  layers: z.array(layerSchema, { error: 'must be a list of layers' }).min(1, { error: 'must have at least one layer' }),
  heads: z.array(headSchema, { error: 'must be a list of heads' }).min(1, { error: 'must have at least one head (or be left out)' }).optional(),
  /** Loss of the single default head 'out' (only without heads). */
  loss: loss.optional(),
  ...headLossFields,
  init: initSchema.default({ weights: 'auto', bias: 0 }),
  seed: z.number({ error: 'must be an integer' }).int({ error: 'must be an integer' }),
});

/** A validated spec, defaults filled in. */
export type ModelSpec = z.output<typeof modelSpecSchema>;
/** What a user writes (defaults optional). */
export type ModelSpecInput = z.input<typeof modelSpecSchema>;

/** Keys an object at `path` may have, for "unknown key" messages. */
function allowedKeysAt(path: readonly (string | number)[], raw: unknown): string[] | undefined {
  const at = valueAt(raw, path) as Record<string, unknown> | undefined;
  if (path.length === 0) return Object.keys(modelSpecSchema.shape);
  const last = path[path.length - 1];
  if (typeof last === 'number' && path[path.length - 2] === 'layers') {
    const t = at?.type;
    return typeof t === 'string' && t in layerSchemas ? Object.keys(layerSchemas[t as LayerType].shape) : undefined;
  }
  if (typeof last === 'number' && path[0] === 'heads' && path.length === 2) return Object.keys(headSchema.shape);
  if (path.length === 1 && last === 'input') return Object.keys(inputSchema.shape);
  if (path.length === 1 && last === 'init') return Object.keys(initSchema.shape);
  if (last === 'hashed' && typeof path[path.length - 2] === 'number') return Object.keys(hashedSchema.shape);
  return undefined;
}

/** The value at a field path in the raw (unvalidated) input. */
export function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = raw;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

/** A short rendering of a bad value for messages: -3, 'densse', [1,2,3]. */
export function showValue(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Turns zod issues into sentences that name the field path and the bad value. */
export function issuesFromZod(error: z.ZodError, raw: unknown): SpecIssue[] {
  return error.issues.map((iss): SpecIssue => {
    const path = iss.path.filter((p): p is string | number => typeof p !== 'symbol');
    const where = formatPath(path);
    const value = valueAt(raw, path);
    if (iss.code === 'invalid_union' && 'discriminator' in iss && iss.discriminator === 'type') {
      const parent = path.slice(0, -1);
      const isLayer = parent[parent.length - 2] === 'layers';
      const known = isLayer ? LAYER_TYPES.join(', ') : ((iss as { options?: unknown[] }).options ?? []).join(', ');
      const what = isLayer ? 'a layer type' : 'one of the known types';
      return value === undefined
        ? { path, message: `${where} is missing: it must be ${what} (${known})` }
        : { path, message: `${where} must be ${what}, got ${showValue(value)}; known layer types: ${known}` };
    }
    if (iss.code === 'unrecognized_keys') {
      const allowed = allowedKeysAt(path, raw);
      const keys = iss.keys.map((k) => `'${k}'`).join(', ');
      return { path, message: `${where} has unknown key${iss.keys.length > 1 ? 's' : ''} ${keys}${allowed ? `; allowed: ${allowed.join(', ')}` : ''}` };
    }
    if (value === undefined && iss.code === 'invalid_type') return { path, message: `${where} is required: it ${iss.message}` };
    if (iss.code === 'invalid_value' && 'values' in iss && iss.values.length === 1) return { path, message: `${where} must be ${showValue(iss.values[0])}, got ${showValue(value)}` };
    return { path, message: `${where} ${iss.message}, got ${showValue(value)}` };
  });
}
