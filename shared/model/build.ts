/**
 * buildForwardModel: model spec → forward ONNX graph (opset 17, inference form) with seeded
 * initial parameters, plus the heads the compiler turns into losses.
 *
 * Conventions, chosen so an exported model looks like a PyTorch export:
 * - dense: Gemm(x, W, b) with transB=1 and W `<layer>.weight` of shape [out, in]; a layer tied to
 *   the transpose of another reads the same initializer with transB=0;
 * - conv2d: Conv with W [filters, C/groups, kh, kw]; batch_norm: BatchNormalization with
 *   `<layer>.weight/.bias/.running_mean/.running_var`;
 * - dropout: Dropout(x, ratio) with a constant ratio and no training_mode (inference form);
 * - gelu: x·0.5·(1 + erf(x/√2)) (ONNX Gelu only exists from opset 20).
 * Constants that are not parameters (ratios, gelu's numbers, reshape targets) are Constant nodes,
 * never initializers, so every initializer of the forward model is a parameter or a buffer.
 */
import { GraphProto } from '../proto/gen/onnx.js';
import { GraphBuilder } from '../onnx/builder.js';
import { DEFAULT_OPSET, makeModel, valueInfo, type ModelProto } from '../onnx/model.js';
import { DT, float32Tensor, int64Tensor } from '../onnx/tensor.js';
import type { HeadSpec, TensorSpec } from '../autodiff/compile-types.js';
import type { Shape } from '../onnx/shapes.js';
import { constantValues, drawWeights, paramStream } from './init.js';
import { emitHashedWeight } from './hashed.js';
import { validateModelSpec } from './load.js';
import type { ModelPlan, ParamKind, PlannedLayer } from './plan.js';
import type { ActivationType, ModelSpec, ModelSpecInput } from './spec.js';

/** Name of the batch dimension in every graph input and output. */
export const BATCH_DIM = 'N';

export interface ForwardModel {
  /** Forward graph: input `x` [N, ...], one output per head. */
  model: ModelProto;
  heads: HeadSpec[];
  /** Data input of the graph. */
  input: TensorSpec;
  /** Every initializer of the model with its role (weights get weight decay, buffers are state). */
  params: { name: string; shape: number[]; kind: ParamKind }[];
  /** Output shape of each head, by head name, batch dimension first. */
  outputShapes: Record<string, Shape>;
  /** The validated spec, defaults filled in. */
  spec: ModelSpec;
}

export interface BuildOptions {
  /** Overrides the spec's seed (e.g. one seed per run of a search). */
  seed?: number;
}

/** Validates `spec` (throwing ModelSpecError) and builds its forward model. */
export function buildForwardModel(spec: ModelSpecInput | ModelSpec, options: BuildOptions = {}): ForwardModel {
  const { plan } = validateModelSpec(spec);
  return emitPlan(plan, options.seed ?? plan.spec.seed);
}

function emitPlan(plan: ModelPlan, seed: number): ForwardModel {
  const taken = [plan.input.name, ...plan.params.map((p) => p.name), ...plan.heads.map((h) => h.output), ...plan.heads.map((h) => h.labels)];
  const b = new GraphBuilder(taken);
  for (const p of plan.params) {
    const count = p.shape.reduce((a, d) => a * d, 1);
    const values = 'constant' in p.init ? constantValues(count, p.init.constant) : drawWeights(p.init.scheme, count, p.init.fans, paramStream(seed, p.name));
    b.initializer(float32Tensor(p.name, p.shape, values));
  }
  const constants = new ConstantNodes(b);

  const outputOf = new Map<string, string>();
  let x = plan.input.name;
  for (const layer of plan.trunk) {
    x = emitLayer(b, constants, layer, x);
    outputOf.set(layer.name, x);
  }
  const outputs = plan.heads.map((h) => {
    let t = outputOf.get(h.from)!;
    for (const layer of h.layers) t = emitLayer(b, constants, layer, t);
    // A head's own last layer, or the trunk's end read by the only head, is read by nothing else.
    nameOutput(b, t, h.output, h.layers.length > 0 || plan.heads.length === 1);
    return valueInfo(h.output, DT.FLOAT, [BATCH_DIM, ...h.outShape]);
  });

  const inputShape: Shape = [BATCH_DIM, ...plan.input.shape];
  const elemType = plan.input.kind === 'int64' ? DT.INT64 : DT.FLOAT;
  const graph = GraphProto.fromPartial({
    name: plan.spec.name ?? 'gradfleet_model',
    node: b.nodes,
    initializer: b.initializers,
    input: [valueInfo(plan.input.name, elemType, inputShape)],
    output: outputs,
  });
  return {
    model: makeModel(graph, DEFAULT_OPSET),
    heads: plan.heads.map((h) => ({
      name: h.name,
      logits: h.output,
      labels: h.labels,
      loss: h.loss,
      weight: h.weight,
      ...(h.labelSmoothing !== undefined ? { labelSmoothing: h.labelSmoothing } : {}),
      ...(h.classWeights !== undefined ? { classWeights: h.classWeights } : {}),
    })),
    input: { name: plan.input.name, elemType, shape: inputShape },
    params: plan.params.map((p) => ({ name: p.name, shape: [...p.shape], kind: p.kind })),
    outputShapes: Object.fromEntries(plan.heads.map((h) => [h.name, [BATCH_DIM, ...h.outShape]])),
    spec: plan.spec,
  };
}

/**
 * Gives a head's final tensor its output name: renames the producing node's output when the
 * tensor is the head's alone, otherwise (a head with no layers of its own, reading a trunk tensor
 * that other heads or layers also read) adds an Identity.
 */
function nameOutput(b: GraphBuilder, tensor: string, output: string, ownTensor: boolean): void {
  const producer = b.nodes.find((n) => n.output.includes(tensor));
  if (producer && ownTensor) {
    producer.output = producer.output.map((o) => (o === tensor ? output : o));
    return;
  }
  b.add('Identity', [tensor], {}, [output]);
}

/** Non-parameter constants as Constant nodes (one per distinct value), so they never look like parameters. */
class ConstantNodes {
  private readonly cache = new Map<string, string>();
  constructor(private readonly b: GraphBuilder) {}

  /** A float32 scalar; `hint` names it when it is first made. */
  scalar(value: number, hint: string): string {
    return this.get(`f:${value}`, () => float32Tensor('', [], [value]), hint);
  }

  ints(values: readonly number[], hint: string): string {
    return this.get(`i:${values.join(',')}`, () => int64Tensor('', [values.length], values), hint);
  }

  /** An int64 scalar. */
  int(value: number, hint: string): string {
    return this.get(`is:${value}`, () => int64Tensor('', [], [value]), hint);
  }

  private get(key: string, make: () => ReturnType<typeof float32Tensor>, hint: string): string {
    const hit = this.cache.get(key);
    if (hit) return hit;
    const name = this.b.op('Constant', [], { value: make() }, hint);
    this.cache.set(key, name);
    return name;
  }
}

function emitLayer(b: GraphBuilder, k: ConstantNodes, layer: PlannedLayer, x: string): string {
  const s = layer.spec;
  const hint = layer.name;
  switch (s.type) {
    case 'dense': {
      if (layer.hashed) {
        // W [in, out] computed from the table: Gemm without transB.
        const h = layer.hashed;
        const int = (v: number | readonly number[], name: string) => (typeof v === 'number' ? k.int(v, name) : k.ints(v, name));
        const w = emitHashedWeight(b, int, { table: h.table, buckets: h.buckets, inFeatures: h.inFeatures, outFeatures: h.outFeatures, seed: h.seed, hint });
        const y = b.op('Gemm', layer.bias ? [x, w, layer.bias] : [x, w], { transB: 0 }, hint);
        return s.activation === 'none' ? y : emitActivation(b, k, s.activation, y, `${hint}_${s.activation}`, {});
      }
      const w = layer.weight!;
      const inputs = layer.bias ? [x, w.name, layer.bias] : [x, w.name];
      const y = b.op('Gemm', inputs, { transB: w.transposed ? 0 : 1 }, hint);
      return s.activation === 'none' ? y : emitActivation(b, k, s.activation, y, `${hint}_${s.activation}`, {});
    }
    case 'conv2d': {
      const win = layer.window!;
      const inputs = layer.bias ? [x, layer.weight!.name, layer.bias] : [x, layer.weight!.name];
      const y = b.op('Conv', inputs, { kernel_shape: win.kernel, strides: win.strides, pads: win.pads, dilations: win.dilations, group: layer.groups! }, hint);
      return s.activation === 'none' ? y : emitActivation(b, k, s.activation, y, `${hint}_${s.activation}`, {});
    }
    case 'maxpool2d': {
      const win = layer.window!;
      return b.op('MaxPool', [x], { kernel_shape: win.kernel, strides: win.strides, pads: win.pads }, hint);
    }
    case 'avgpool2d': {
      const win = layer.window!;
      return b.op('AveragePool', [x], { kernel_shape: win.kernel, strides: win.strides, pads: win.pads, count_include_pad: s.count_include_pad ? 1 : 0 }, hint);
    }
    case 'global_avg_pool':
      return b.op('Flatten', [b.op('GlobalAveragePool', [x], {}, `${hint}_pool`)], { axis: 1 }, hint);
    case 'flatten':
      return b.op('Flatten', [x], { axis: 1 }, hint);
    case 'reshape':
      // -1 takes the batch dimension; the per-sample dims are all resolved by the plan.
      return b.op('Reshape', [x, k.ints([-1, ...layer.targetShape!], `${hint}_shape`)], {}, hint);
    case 'dropout':
      return b.op('Dropout', [x, k.scalar(s.p, `${hint}_ratio`)], {}, hint);
    case 'batch_norm': {
      const n = layer.name;
      return b.op('BatchNormalization', [x, `${n}.weight`, `${n}.bias`, `${n}.running_mean`, `${n}.running_var`], { epsilon: { float: s.eps }, momentum: { float: s.momentum } }, hint);
    }
    case 'embedding':
      return b.op('Gather', [layer.weight!.name, x], { axis: 0 }, hint);
    case 'relu':
    case 'tanh':
    case 'sigmoid':
    case 'gelu':
      return emitActivation(b, k, s.type, x, hint, {});
    case 'leaky_relu':
      return emitActivation(b, k, s.type, x, hint, { alpha: s.alpha });
    case 'softmax':
      return emitActivation(b, k, s.type, x, hint, { axis: s.axis });
  }
}

function emitActivation(b: GraphBuilder, k: ConstantNodes, type: ActivationType, x: string, hint: string, opts: { alpha?: number; axis?: number }): string {
  switch (type) {
    case 'relu':
      return b.op('Relu', [x], {}, hint);
    case 'leaky_relu':
      return b.op('LeakyRelu', [x], { alpha: { float: opts.alpha ?? 0.01 } }, hint);
    case 'tanh':
      return b.op('Tanh', [x], {}, hint);
    case 'sigmoid':
      return b.op('Sigmoid', [x], {}, hint);
    case 'softmax':
      return b.op('Softmax', [x], { axis: opts.axis ?? -1 }, hint);
    case 'gelu': {
      // gelu(x) = x·0.5·(1 + erf(x/√2))
      const erf = b.op('Erf', [b.op('Div', [x, k.scalar(Math.SQRT2, 'sqrt2')], {}, `${hint}_scaled`)], {}, `${hint}_erf`);
      const onePlus = b.op('Add', [erf, k.scalar(1, 'one')], {}, `${hint}_1p_erf`);
      return b.op('Mul', [b.op('Mul', [x, onePlus], {}, `${hint}_x_1p_erf`), k.scalar(0.5, 'half')], {}, hint);
    }
  }
}
