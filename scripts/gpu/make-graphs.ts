/**
 * Compiles gradfleet's own training graphs for the GPU check (scripts/gpu/check-ours.mjs) and
 * writes, per graph, `<name>.onnx` and a manifest `<name>.json` that tells a plain-JS script,
 * with no project imports, how to build deterministic feeds for it.
 *
 *   npx tsx scripts/gpu/make-graphs.ts OUTDIR [--batches 128,512]
 *
 * Graphs (compiled as a job compiles them: reduction 'sum', dropout 'mask-input', correct):
 * - mlp:       the embedded default model, MLP 784-256-128-10 with dropout;
 * - cnn_gap:   conv 1→16 3×3 pad 1, BN, ReLU, maxpool 2, conv 16→32 3×3 pad 1 stride 2, BN, ReLU,
 *              global average pool, dropout, dense 10;
 * - cnn_group: the same trunk with conv 16→32 in 2 groups (stride 1), then flatten, dropout, dense 10.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildForwardModel, defaultModelSpec, type ModelSpecInput } from '../../shared/model/index.js';
import { compileTraining } from '../../shared/autodiff/compile.js';
import type { CompileOptions, TrainingGraph } from '../../shared/autodiff/compile-types.js';
import { encodeModel } from '../../shared/onnx/model.js';
import { DT } from '../../shared/onnx/tensor.js';
import type { Shape } from '../../shared/onnx/shapes.js';

/** How check-ours.mjs fills one input: uniform floats, int64 class ids, or 0/1 floats. */
type Fill = { dist: 'uniform'; low: number; high: number } | { dist: 'classes'; classes: number } | { dist: 'bernoulli'; p1: number };

interface ManifestInput {
  name: string;
  dtype: 'float32' | 'int64';
  /** 'N' stands for the batch size. */
  shape: Shape;
  role: 'data' | 'label' | 'param' | 'buffer' | 'mask';
  fill: Fill;
}

interface ManifestOutput {
  name: string;
  role: 'loss' | 'head-loss' | 'normalizer' | 'correct' | 'grad' | 'state';
  shape: Shape;
}

/** What check-ours.mjs reads; `version` changes when the fields' meaning does. */
interface Manifest {
  version: 1;
  name: string;
  model: string;
  description: string;
  opset: number;
  /** Seed of the feeds: input k draws from mulberry32(mix(seed, k)), in row-major order. */
  seed: number;
  batches: number[];
  compile: Pick<CompileOptions, 'reduction' | 'dropout' | 'correct'>;
  ops: Record<string, number>;
  inputs: ManifestInput[];
  outputs: ManifestOutput[];
  spec: ModelSpecInput;
}

const COMPILE: Pick<CompileOptions, 'reduction' | 'dropout' | 'correct'> = { reduction: 'sum', dropout: 'mask-input', correct: true };

function cnnSpec(name: string, conv2: Record<string, unknown>, pool: 'global_avg_pool' | 'flatten'): ModelSpecInput {
  return {
    name,
    input: { name: 'x', shape: [1, 28, 28], type: 'float' },
    layers: [
      { type: 'conv2d', name: 'conv1', filters: 16, kernel: 3, padding: 1 },
      { type: 'batch_norm', name: 'bn1' },
      { type: 'relu' },
      { type: 'maxpool2d', kernel: 2 },
      { type: 'conv2d', name: 'conv2', filters: 32, kernel: 3, padding: 1, ...conv2 },
      { type: 'batch_norm', name: 'bn2' },
      { type: 'relu' },
      { type: pool },
      { type: 'dropout', p: 0.25 },
      { type: 'dense', name: 'fc', units: 10 },
    ],
    loss: 'cross-entropy',
    seed: 0,
  } as ModelSpecInput;
}

const GRAPHS: { name: string; description: string; spec: ModelSpecInput }[] = [
  { name: 'mlp', description: 'default model: MLP 784-256-128-10, ReLU, dropout 0.2', spec: defaultModelSpec(0) },
  {
    name: 'cnn_gap',
    description: 'conv16 3x3 p1, BN, ReLU, maxpool2, conv32 3x3 p1 stride 2, BN, ReLU, global avg pool, dropout 0.25, dense 10',
    spec: cnnSpec('cnn-gap', { stride: 2 }, 'global_avg_pool'),
  },
  {
    name: 'cnn_group',
    description: 'conv16 3x3 p1, BN, ReLU, maxpool2, conv32 3x3 p1 groups 2, BN, ReLU, flatten, dropout 0.25, dense 10',
    spec: cnnSpec('cnn-group', { groups: 2 }, 'flatten'),
  },
];

/**
 * Parameters get values like their initialisation: weights He-uniform over their fan-in (every
 * dim but the first, for Gemm [out, in] and Conv [F, C/g, kh, kw] alike), constants (biases, BN
 * scale and shift, running mean and variance) that constant ±0.1, which keeps running_var > 0.
 */
function paramFill(shape: number[], init: Float32Array): Fill {
  const first = init[0] ?? 0;
  if (init.every((v) => v === first)) return { dist: 'uniform', low: first - 0.1, high: first + 0.1 };
  const fanIn = shape.slice(1).reduce((a, d) => a * d, 1);
  const bound = Math.sqrt(6 / fanIn);
  return { dist: 'uniform', low: -bound, high: bound };
}

function dtypeOf(elemType: number, what: string): 'float32' | 'int64' {
  if (elemType === DT.FLOAT) return 'float32';
  if (elemType === DT.INT64) return 'int64';
  throw new Error(`${what} has element type ${DT[elemType] ?? elemType}; the GPU check feeds only float32 and int64`);
}

function manifestFor(name: string, description: string, spec: ModelSpecInput, g: TrainingGraph, classes: number, batches: number[], seed: number): Manifest {
  const inputs: ManifestInput[] = [
    ...g.inputs.map((t): ManifestInput => ({ name: t.name, dtype: dtypeOf(t.elemType, `input '${t.name}'`), shape: t.shape, role: 'data', fill: { dist: 'uniform', low: 0, high: 1 } })),
    ...g.labels.map((t): ManifestInput => ({ name: t.name, dtype: dtypeOf(t.elemType, `labels '${t.name}'`), shape: t.shape, role: 'label', fill: { dist: 'classes', classes } })),
    ...g.params.map((p): ManifestInput => ({ name: p.name, dtype: 'float32', shape: p.shape, role: 'param', fill: paramFill(p.shape, p.init) })),
    ...g.buffers.map((b): ManifestInput => ({ name: b.name, dtype: 'float32', shape: b.shape, role: 'buffer', fill: paramFill(b.shape, b.init) })),
    ...g.dropoutMasks.map((m): ManifestInput => ({ name: m.name, dtype: 'float32', shape: m.shape, role: 'mask', fill: { dist: 'bernoulli', p1: 1 - m.ratio } })),
  ];
  const declared = new Set(g.model.graph!.input.map((v) => v.name));
  const missing = inputs.filter((i) => !declared.has(i.name)).map((i) => i.name);
  const undescribed = [...declared].filter((n) => !inputs.some((i) => i.name === n));
  if (missing.length || undescribed.length) throw new Error(`${name}: manifest and graph inputs differ (not in graph: ${missing.join(', ') || '-'}; not described: ${undescribed.join(', ') || '-'})`);

  const shapeOf = new Map(g.model.graph!.output.map((v) => [v.name, (v.type?.tensorType?.shape?.dim ?? []).map((d): string | number => d.dimParam || Number(d.dimValue))]));
  const out = (n: string, role: ManifestOutput['role']): ManifestOutput => ({ name: n, role, shape: shapeOf.get(n) ?? [] });
  const outputs: ManifestOutput[] = [
    out(g.outputs.loss, 'loss'),
    ...g.outputs.headLosses.map((n) => out(n, 'head-loss')),
    ...g.outputs.headNormalizers.map((n) => out(n, 'normalizer')),
    ...(g.outputs.correct ? [out(g.outputs.correct, 'correct')] : []),
    ...g.params.map((p) => out(p.grad, 'grad')),
    ...g.buffers.map((b) => out(b.updated, 'state')),
  ];
  const ops: Record<string, number> = {};
  for (const n of g.model.graph!.node) ops[n.opType] = (ops[n.opType] ?? 0) + 1;
  return { version: 1, name, model: `${name}.onnx`, description, opset: g.opset, seed, batches, compile: COMPILE, ops, inputs, outputs, spec };
}

function main(): void {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { batches: { type: 'string', default: '128,512' } } });
  if (positionals.length !== 1) throw new Error('usage: npx tsx scripts/gpu/make-graphs.ts OUTDIR [--batches 128,512]');
  const outDir = resolve(positionals[0]!);
  const batches = values.batches.split(',').map(Number);
  if (batches.some((b) => !Number.isInteger(b) || b < 1)) throw new Error(`--batches must be positive integers, got '${values.batches}'`);
  mkdirSync(outDir, { recursive: true });
  GRAPHS.forEach(({ name, description, spec }, k) => {
    const forward = buildForwardModel(spec);
    const graph = compileTraining(forward.model, { heads: forward.heads, ...COMPILE });
    const head = forward.heads[0]!;
    const classes = forward.outputShapes[head.name]!.at(-1) as number;
    const manifest = manifestFor(name, description, spec, graph, classes, batches, 1000 + k);
    const bytes = encodeModel(graph.model);
    writeFileSync(join(outDir, manifest.model), bytes);
    writeFileSync(join(outDir, `${name}.json`), `${JSON.stringify(manifest, null, 1)}\n`);
    const nodes = graph.model.graph!.node.length;
    console.log(`${name}: ${nodes} nodes, ${(bytes.length / 1024).toFixed(1)} KiB, inputs ${manifest.inputs.length}, outputs ${manifest.outputs.length}, ops ${Object.keys(manifest.ops).sort().join(' ')}`);
  });
}

main();
