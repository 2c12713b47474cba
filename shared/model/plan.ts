/**
 * planModel: everything about a spec that can be known without emitting ONNX — layer names,
 * per-sample shapes, parameters and their initialisers, shared weights, heads — checked with
 * errors that name the field path. The loader runs it to validate a file (so shape errors also
 * get a line and column); build.ts turns the plan into a graph.
 */
import type { LossKind } from '../autodiff/compile-types.js';
import { ModelSpecError, formatPath } from './errors.js';
import { convFans, defaultScheme, denseFans, type Fans } from './init.js';
import { MAX_HASHED_POSITIONS } from './hashed.js';
import type { InitScheme, LayerOf, LayerSpec, LayerType, ModelHeadSpec, ModelSpec } from './spec.js';

/** How the optimizer and the compiler should treat a tensor the model creates. */
export type ParamKind = 'weight' | 'bias' | 'norm' | 'buffer';

export interface PlannedParam {
  /** Initializer name: `<layer>.weight`, `.bias`, `.running_mean`, `.running_var`. */
  name: string;
  shape: number[];
  /** 'buffer' = batch-norm running statistics: state, not trainable. */
  kind: ParamKind;
  init: { scheme: InitScheme; fans: Fans } | { constant: number };
}

export type Path = (string | number)[];
export type ElemKind = 'float' | 'int64';

/** 2-D window geometry, resolved: pads are [top, left, bottom, right] as ONNX orders them. */
export interface Window {
  kernel: [number, number];
  strides: [number, number];
  pads: [number, number, number, number];
  dilations: [number, number];
}

export interface PlannedLayer {
  path: Path;
  /** The layer's name (given, or `<type>_<index>`; `<head>_<type>_<index>` in a head). */
  name: string;
  spec: LayerSpec;
  /** Per-sample shapes (no batch dimension). */
  inShape: number[];
  outShape: number[];
  inKind: ElemKind;
  outKind: ElemKind;
  /** Parameters this layer creates (a layer that shares a weight does not create it). */
  params: PlannedParam[];
  /** Weight the layer reads, its own or a shared one; `transposed` flips its use (Gemm transB=0). */
  weight?: { name: string; transposed: boolean; shape: number[] };
  bias?: string;
  window?: Window;
  groups?: number;
  /** reshape: the resolved per-sample target shape. */
  targetShape?: number[];
  /** Hashed dense layer: W [in, out] is computed from this table (shared/model/hashed.ts); `weight` is unset. */
  hashed?: { table: string; buckets: number; seed: number; inFeatures: number; outFeatures: number };
}

export interface PlannedHead {
  name: string;
  /** Where the head is declared (['heads', i]) or [] for the implicit single head. */
  path: Path;
  /** Trunk layer the head reads. */
  from: string;
  layers: PlannedLayer[];
  loss: LossKind;
  weight: number;
  labels: string;
  /** Graph output: `logits` with one head, `logits:<head>` with several. */
  output: string;
  outShape: number[];
  labelSmoothing?: number;
  classWeights?: number[];
}

export interface ModelPlan {
  spec: ModelSpec;
  input: { name: string; shape: number[]; kind: ElemKind };
  trunk: PlannedLayer[];
  heads: PlannedHead[];
  /** Every parameter and buffer, in creation order (trunk first, then heads). */
  params: PlannedParam[];
}

/** A weight-bearing layer another layer may share. */
interface Shareable {
  type: LayerType;
  param: PlannedParam;
  /** A hashed dense layer: its weight is not stored, so nothing may share it. */
  hashed?: boolean;
}

/** Layers that may sit between a weight layer and its activation without changing which init fits. */
const TRANSPARENT_FOR_INIT: readonly LayerType[] = ['batch_norm', 'dropout', 'maxpool2d', 'avgpool2d', 'flatten', 'reshape'];
/** Layers that only move int64 token ids around (everything else needs floats). */
const ID_LAYERS: readonly LayerType[] = ['embedding', 'flatten', 'reshape'];

function fail(path: Path, message: string): never {
  throw new ModelSpecError([{ path, message }]);
}

function pair(v: number | readonly [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

function show(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

function describe(l: { path: Path; name: string; spec: LayerSpec }): string {
  return `${formatPath(l.path)} (${l.spec.type} '${l.name}')`;
}

/** Resolves and checks a validated spec. Throws ModelSpecError naming the field path. */
export function planModel(spec: ModelSpec): ModelPlan {
  const params: PlannedParam[] = [];
  const shareable = new Map<string, Shareable>();
  const names = new Map<string, Path>();
  const input = { name: spec.input.name, shape: [...spec.input.shape], kind: spec.input.type as ElemKind };

  const claimName = (name: string, path: Path) => {
    const prior = names.get(name);
    if (prior) fail(path, `${formatPath(path)}: layer name '${name}' is already used by ${formatPath(prior)}`);
    names.set(name, path);
  };

  const planList = (list: readonly LayerSpec[], base: Path, namePrefix: string, shape: number[], kind: ElemKind): PlannedLayer[] => {
    const planned: PlannedLayer[] = [];
    list.forEach((layer, i) => {
      const path = [...base, i];
      const name = layer.name ?? `${namePrefix}${layer.type}_${i}`;
      claimName(name, layer.name !== undefined ? [...path, 'name'] : path);
      const p = planLayer({ layer, path, name, inShape: shape, inKind: kind, followedByRelu: followedByRelu(list, i), spec, shareable, params });
      planned.push(p);
      shape = p.outShape;
      kind = p.outKind;
    });
    return planned;
  };

  const trunk = planList(spec.layers, ['layers'], '', input.shape, input.kind);
  const trunkByName = new Map(trunk.map((l, i) => [l.name, i]));
  const last = trunk[trunk.length - 1]!;

  if (!spec.heads) {
    const head = planHead({ name: 'out', from: undefined, loss: spec.loss ?? 'cross-entropy', weight: 1, labels: spec.labels, label_smoothing: spec.label_smoothing, class_weights: spec.class_weights }, [], last, [], true, spec);
    return { spec, input, trunk, heads: [head], params };
  }
  for (const key of ['loss', 'labels', 'label_smoothing', 'class_weights'] as const) {
    if (spec[key] !== undefined) fail([key], `${key} applies to the single default head; with heads, give each head its own ${key}`);
  }

  const headNames = new Map<string, number>();
  const heads: PlannedHead[] = [];
  let lastUsed = -1;
  spec.heads.forEach((h, i) => {
    const path: Path = ['heads', i];
    if (headNames.has(h.name)) fail([...path, 'name'], `${formatPath([...path, 'name'])}: head name '${h.name}' is already used by heads[${headNames.get(h.name)}]`);
    headNames.set(h.name, i);
    let fromIndex = trunk.length - 1;
    if (h.from !== undefined) {
      const idx = trunkByName.get(h.from);
      if (idx === undefined) fail([...path, 'from'], `${formatPath([...path, 'from'])} must name a trunk layer, got '${h.from}'; trunk layers: ${trunk.map((l) => l.name).join(', ')}`);
      fromIndex = idx;
    }
    lastUsed = Math.max(lastUsed, fromIndex);
    const from = trunk[fromIndex]!;
    const layers = planList(h.layers, [...path, 'layers'], `${h.name}_`, from.outShape, from.outKind);
    heads.push(planHead(h, path, from, layers, spec.heads!.length === 1, spec));
  });
  if (lastUsed < trunk.length - 1) {
    const dead = trunk[lastUsed + 1]!;
    fail(dead.path, `${describe(dead)} feeds no head: every head reads from '${trunk[lastUsed]!.name}' or earlier; remove the trunk layers after it or point a head's 'from' at '${last.name}'`);
  }
  const labelsTaken = new Map<string, string>();
  for (const h of heads) {
    if (h.labels === input.name) fail([...h.path, 'labels'], `${formatPath([...h.path, 'labels'])}: '${h.labels}' is the model's input name`);
    const other = labelsTaken.get(h.labels);
    if (other !== undefined) fail([...h.path, 'labels'], `${formatPath([...h.path, 'labels'])}: labels input '${h.labels}' is already read by head '${other}'`);
    labelsTaken.set(h.labels, h.name);
  }
  return { spec, input, trunk, heads, params };
}

/** True when the next layer that changes values is relu/leaky_relu (or the layer applies one itself). */
function followedByRelu(list: readonly LayerSpec[], i: number): boolean {
  const own = list[i]!;
  if ((own.type === 'dense' || own.type === 'conv2d') && own.activation !== 'none') return own.activation === 'relu' || own.activation === 'leaky_relu';
  for (let j = i + 1; j < list.length; j++) {
    const t = list[j]!.type;
    if (t === 'relu' || t === 'leaky_relu') return true;
    if (!TRANSPARENT_FOR_INIT.includes(t)) return false;
  }
  return false;
}

function planHead(h: Omit<ModelHeadSpec, 'layers'> & { from?: string; labels?: string }, path: Path, from: PlannedLayer, layers: PlannedLayer[], single: boolean, spec: ModelSpec): PlannedHead {
  const end = layers[layers.length - 1] ?? from;
  const where = path.length ? `${formatPath(path)} ('${h.name}')` : `the model's output (head 'out')`;
  const fieldPath = (k: string): Path => (path.length ? [...path, k] : [k]);
  if (end.outKind !== 'float') fail(path.length ? path : ['layers'], `${where} ends in int64 token ids; add an embedding layer`);
  const lastOp = end.spec.type === 'dense' || end.spec.type === 'conv2d' ? end.spec.activation : end.spec.type;
  if (h.loss === 'cross-entropy' && lastOp === 'softmax') fail(end.path, `${describe(end)}: ${where} uses cross-entropy, which applies softmax itself; remove the final softmax`);
  if (h.loss === 'bce' && lastOp === 'sigmoid') fail(end.path, `${describe(end)}: ${where} uses bce, which applies the sigmoid itself; remove the final sigmoid`);
  if (h.loss === 'cross-entropy') {
    if (end.outShape.length !== 1) fail(end.path, `${describe(end)}: ${where} uses cross-entropy, which needs one logit per class ([classes] per sample), got ${show(end.outShape)}; add flatten and dense`);
    if (end.outShape[0]! < 2) fail(end.path, `${describe(end)}: ${where} uses cross-entropy, which needs at least 2 classes, got ${end.outShape[0]}`);
    if (h.class_weights && h.class_weights.length !== end.outShape[0]) {
      fail(fieldPath('class_weights'), `${formatPath(fieldPath('class_weights'))} has ${h.class_weights.length} entries, but ${where} has ${end.outShape[0]} classes`);
    }
  } else {
    for (const k of ['label_smoothing', 'class_weights'] as const) if (h[k] !== undefined) fail(fieldPath(k), `${formatPath(fieldPath(k))} applies only to cross-entropy, but ${where} uses ${h.loss}`);
  }
  const labels = h.labels ?? (single ? 'labels' : `labels:${h.name}`);
  if (!path.length && labels === spec.input.name) fail(['labels'], `labels: '${labels}' is the model's input name`);
  return {
    name: h.name,
    path,
    from: from.name,
    layers,
    loss: h.loss,
    weight: h.weight,
    labels,
    output: single ? 'logits' : `logits:${h.name}`,
    outShape: [...end.outShape],
    ...(h.label_smoothing !== undefined ? { labelSmoothing: h.label_smoothing } : {}),
    ...(h.class_weights !== undefined ? { classWeights: [...h.class_weights] } : {}),
  };
}

interface LayerContext {
  layer: LayerSpec;
  path: Path;
  name: string;
  inShape: number[];
  inKind: ElemKind;
  followedByRelu: boolean;
  spec: ModelSpec;
  shareable: Map<string, Shareable>;
  params: PlannedParam[];
}

function planLayer(c: LayerContext): PlannedLayer {
  const { layer, path, name, inShape, inKind } = c;
  const head = { path, name, spec: layer };
  if (inKind === 'int64' && !ID_LAYERS.includes(layer.type)) {
    fail(path, `${describe(head)} cannot read int64 token ids ${show(inShape)}; start with an embedding layer`);
  }
  const out: PlannedLayer = { path, name, spec: layer, inShape, outShape: inShape, inKind, outKind: inKind, params: [] };
  const addParam = (p: PlannedParam) => {
    out.params.push(p);
    c.params.push(p);
    return p;
  };
  const scheme = (explicit: InitScheme | undefined) => explicit ?? (c.spec.init.weights === 'auto' ? defaultScheme(c.followedByRelu) : c.spec.init.weights);
  const needRank = (rank: number, what: string, hint: string) => {
    if (inShape.length !== rank) fail(path, `${describe(head)} needs ${what} per sample, got ${show(inShape)}${hint ? `; ${hint}` : ''}`);
  };
  const shared = (l: { share?: string | undefined }): Shareable | undefined => {
    if (l.share === undefined) return undefined;
    const s = c.shareable.get(l.share);
    if (!s) {
      const known = [...c.shareable.keys()];
      fail([...path, 'share'], `${formatPath([...path, 'share'])} must name a dense, conv2d or embedding layer defined before this one, got '${l.share}'; ${known.length ? `candidates: ${known.join(', ')}` : 'there is none yet'}`);
    }
    if (s.hashed) fail([...path, 'share'], `${formatPath([...path, 'share'])}: '${l.share}' is a hashed dense layer, whose weight is computed from a hash table rather than stored; it cannot be shared`);
    return s;
  };
  const bias = (count: number, wanted: boolean) => {
    if (!wanted) return;
    out.bias = addParam({ name: `${name}.bias`, shape: [count], kind: 'bias', init: { constant: c.spec.init.bias } }).name;
  };

  switch (layer.type) {
    case 'dense': {
      needRank(1, 'a flat [features] input', 'add a flatten layer before it');
      const inF = inShape[0]!;
      if (layer.hashed) return planHashedDense(c, out, layer, inF, scheme(layer.init), addParam, bias);
      const s = shared(layer);
      if (layer.transpose && !s) fail([...path, 'transpose'], `${formatPath([...path, 'transpose'])} applies only to a layer that shares a weight (set share)`);
      let units: number;
      if (s) {
        const w = s.param.shape;
        if (w.length !== 2) fail([...path, 'share'], `${formatPath([...path, 'share'])}: '${layer.share}' has a ${w.length}-D weight ${show(w)}; a dense layer can share only a 2-D one`);
        // Stored weights are [out, in] (Gemm transB=1); the transpose is used as [in, out].
        const [wOut, wIn] = layer.transpose ? [w[1]!, w[0]!] : [w[0]!, w[1]!];
        if (wIn !== inF) {
          fail([...path, 'share'], `${formatPath([...path, 'share'])}: '${layer.share}' weight ${show(w)}${layer.transpose ? ' transposed' : ''} takes ${wIn} inputs, but ${describe(head)} receives ${inF}${layer.transpose ? '' : '; set transpose: true to use its transpose'}`);
        }
        if (layer.units !== undefined && layer.units !== wOut) fail([...path, 'units'], `${formatPath([...path, 'units'])} is ${layer.units}, but the shared weight of '${layer.share}' gives ${wOut} units`);
        units = wOut;
        out.weight = { name: s.param.name, transposed: layer.transpose, shape: [...w] };
      } else {
        if (layer.units === undefined) fail([...path, 'units'], `${formatPath([...path, 'units'])} is required: it must be a positive integer (or set share)`);
        units = layer.units;
        const w = addParam({ name: `${name}.weight`, shape: [units, inF], kind: 'weight', init: { scheme: scheme(layer.init), fans: denseFans(inF, units) } });
        out.weight = { name: w.name, transposed: false, shape: w.shape };
      }
      bias(units, layer.bias);
      c.shareable.set(name, { type: 'dense', param: c.params.find((p) => p.name === out.weight!.name)! });
      out.outShape = [units];
      return out;
    }
    case 'conv2d': {
      needRank(3, 'a [C,H,W] input', inShape.length === 1 ? 'add a reshape layer (e.g. shape [1,28,28]) before it' : '');
      const [C, H, W] = inShape as [number, number, number];
      const s = shared(layer);
      let filters: number;
      let kernel: [number, number];
      const groups = layer.groups;
      if (C % groups !== 0) fail([...path, 'groups'], `${formatPath([...path, 'groups'])} must divide the ${C} input channels, got ${groups}`);
      if (s) {
        const w = s.param.shape;
        if (w.length !== 4) fail([...path, 'share'], `${formatPath([...path, 'share'])}: '${layer.share}' has weight ${show(w)}; a conv2d layer can share only a conv2d weight [filters, C/groups, kh, kw]`);
        filters = w[0]!;
        kernel = [w[2]!, w[3]!];
        if (w[1]! !== C / groups) fail([...path, 'share'], `${formatPath([...path, 'share'])}: '${layer.share}' weight ${show(w)} takes ${w[1]} channels per group, but ${describe(head)} receives ${C / groups}`);
        if (layer.filters !== undefined && layer.filters !== filters) fail([...path, 'filters'], `${formatPath([...path, 'filters'])} is ${layer.filters}, but the shared weight of '${layer.share}' has ${filters} filters`);
        if (layer.kernel !== undefined && pair(layer.kernel).join() !== kernel.join()) fail([...path, 'kernel'], `${formatPath([...path, 'kernel'])} is ${JSON.stringify(layer.kernel)}, but the shared weight of '${layer.share}' has kernel ${show(kernel)}`);
        out.weight = { name: s.param.name, transposed: false, shape: [...w] };
      } else {
        if (layer.filters === undefined) fail([...path, 'filters'], `${formatPath([...path, 'filters'])} is required: it must be a positive integer (or set share)`);
        if (layer.kernel === undefined) fail([...path, 'kernel'], `${formatPath([...path, 'kernel'])} is required: it must be a positive integer or a pair [h, w] (or set share)`);
        filters = layer.filters;
        kernel = pair(layer.kernel);
        const w = addParam({ name: `${name}.weight`, shape: [filters, C / groups, ...kernel], kind: 'weight', init: { scheme: scheme(layer.init), fans: convFans(C, filters, groups, kernel) } });
        out.weight = { name: w.name, transposed: false, shape: w.shape };
      }
      if (filters % groups !== 0) fail([...path, 'groups'], `${formatPath([...path, 'groups'])} must divide the ${filters} filters, got ${groups}`);
      out.groups = groups;
      out.window = resolveWindow(head, [H, W], kernel, pair(layer.stride), layer.padding, pair(layer.dilation), false);
      bias(filters, layer.bias);
      c.shareable.set(name, { type: 'conv2d', param: c.params.find((p) => p.name === out.weight!.name)! });
      out.outShape = [filters, ...windowOutput([H, W], out.window, head)];
      return out;
    }
    case 'maxpool2d':
    case 'avgpool2d': {
      needRank(3, 'a [C,H,W] input', '');
      const [C, H, W] = inShape as [number, number, number];
      const kernel = pair(layer.kernel);
      out.window = resolveWindow(head, [H, W], kernel, pair(layer.stride ?? layer.kernel), layer.padding, [1, 1], true);
      out.outShape = [C, ...windowOutput([H, W], out.window, head)];
      return out;
    }
    case 'global_avg_pool':
      needRank(3, 'a [C,H,W] input', '');
      out.outShape = [inShape[0]!];
      return out;
    case 'flatten':
      out.outShape = [inShape.reduce((a, d) => a * d, 1)];
      return out;
    case 'reshape': {
      const total = inShape.reduce((a, d) => a * d, 1);
      const wild = layer.shape.filter((d) => d === -1).length;
      if (wild > 1) fail([...path, 'shape'], `${formatPath([...path, 'shape'])} may hold at most one -1, got ${JSON.stringify(layer.shape)}`);
      const known = layer.shape.reduce((a: number, d) => (d === -1 ? a : a * d), 1);
      const target = layer.shape.map((d) => (d === -1 ? total / known : d));
      if ((wild && total % known !== 0) || (!wild && known !== total)) {
        fail([...path, 'shape'], `${formatPath([...path, 'shape'])} ${JSON.stringify(layer.shape)} does not fit the ${total} values of input ${show(inShape)}`);
      }
      out.targetShape = target;
      out.outShape = target;
      return out;
    }
    case 'embedding': {
      if (inKind !== 'int64') fail(path, `${describe(head)} needs int64 token ids (input.type: int64), got float ${show(inShape)}`);
      const s = shared(layer);
      let vocab: number;
      let dim: number;
      if (s) {
        const w = s.param.shape;
        if (w.length !== 2) fail([...path, 'share'], `${formatPath([...path, 'share'])}: '${layer.share}' has a ${w.length}-D weight ${show(w)}; an embedding can share only a 2-D one [vocab, dim]`);
        [vocab, dim] = [w[0]!, w[1]!];
        if (layer.vocab !== undefined && layer.vocab !== vocab) fail([...path, 'vocab'], `${formatPath([...path, 'vocab'])} is ${layer.vocab}, but the shared weight of '${layer.share}' has ${vocab} rows`);
        if (layer.dim !== undefined && layer.dim !== dim) fail([...path, 'dim'], `${formatPath([...path, 'dim'])} is ${layer.dim}, but the shared weight of '${layer.share}' has ${dim} columns`);
        out.weight = { name: s.param.name, transposed: false, shape: [...w] };
      } else {
        if (layer.vocab === undefined) fail([...path, 'vocab'], `${formatPath([...path, 'vocab'])} is required: it must be a positive integer (or set share)`);
        if (layer.dim === undefined) fail([...path, 'dim'], `${formatPath([...path, 'dim'])} is required: it must be a positive integer (or set share)`);
        [vocab, dim] = [layer.vocab, layer.dim];
        // An embedding is a dense layer on one-hot ids: fan_in = vocab, fan_out = dim.
        const w = addParam({ name: `${name}.weight`, shape: [vocab, dim], kind: 'weight', init: { scheme: scheme(layer.init), fans: denseFans(vocab, dim) } });
        out.weight = { name: w.name, transposed: false, shape: w.shape };
      }
      c.shareable.set(name, { type: 'embedding', param: c.params.find((p) => p.name === out.weight!.name)! });
      out.outKind = 'float';
      out.outShape = [...inShape, dim];
      return out;
    }
    case 'batch_norm': {
      if (inShape.length < 1 || inShape.length > 3) fail(path, `${describe(head)} needs [C], [C,L] or [C,H,W] per sample, got ${show(inShape)}`);
      const C = inShape[0]!;
      addParam({ name: `${name}.weight`, shape: [C], kind: 'norm', init: { constant: 1 } });
      addParam({ name: `${name}.bias`, shape: [C], kind: 'norm', init: { constant: 0 } });
      addParam({ name: `${name}.running_mean`, shape: [C], kind: 'buffer', init: { constant: 0 } });
      addParam({ name: `${name}.running_var`, shape: [C], kind: 'buffer', init: { constant: 1 } });
      return out;
    }
    case 'softmax': {
      const rank = inShape.length + 1;
      if (layer.axis < -rank || layer.axis >= rank || layer.axis === 0 || layer.axis === -rank) {
        fail([...path, 'axis'], `${formatPath([...path, 'axis'])} must be an axis of the [N,${inShape.join(',')}] tensor other than the batch axis 0, got ${layer.axis}`);
      }
      return out;
    }
    case 'dropout':
    case 'relu':
    case 'leaky_relu':
    case 'tanh':
    case 'sigmoid':
    case 'gelu':
      return out;
  }
}

/** A hashed dense layer: a table of `buckets` values instead of the [in, out] weight (shared/model/hashed.ts). */
function planHashedDense(c: LayerContext, out: PlannedLayer, layer: LayerOf<'dense'>, inF: number, scheme: InitScheme, addParam: (p: PlannedParam) => PlannedParam, bias: (count: number, wanted: boolean) => void): PlannedLayer {
  const { path, name } = c;
  const hashed = layer.hashed!;
  const at = (...keys: string[]): Path => [...path, ...keys];
  if (layer.share !== undefined) fail(at('hashed'), `${formatPath(at('hashed'))} cannot be combined with share: a hashed layer computes its weight from its own table`);
  if (layer.transpose) fail(at('hashed'), `${formatPath(at('hashed'))} cannot be combined with transpose`);
  if (layer.units === undefined) fail(at('units'), `${formatPath(at('units'))} is required: it must be a positive integer`);
  const units = layer.units;
  const positions = inF * units;
  if (positions > MAX_HASHED_POSITIONS) fail(at('hashed'), `${formatPath(at('hashed'))}: the ${inF}×${units} weight has ${positions} positions; the hash takes at most ${MAX_HASHED_POSITIONS} (2^31 − 1)`);
  if (hashed.buckets > positions) {
    fail(at('hashed', 'buckets'), `${formatPath(at('hashed', 'buckets'))} is ${hashed.buckets}, more than the ${inF}×${units} = ${positions} weights it stands for; use an ordinary dense layer`);
  }
  // W = ξ·table[h] is distributed as the table: draw it with the variance W's fans ask for.
  const table = addParam({ name: `${name}.weight_table`, shape: [hashed.buckets], kind: 'weight', init: { scheme, fans: denseFans(inF, units) } });
  out.hashed = { table: table.name, buckets: hashed.buckets, seed: hashed.seed, inFeatures: inF, outFeatures: units };
  bias(units, layer.bias);
  c.shareable.set(name, { type: 'dense', param: table, hashed: true });
  out.outShape = [units];
  return out;
}

type Padding = LayerOf<'conv2d'>['padding'];

function resolveWindow(l: { path: Path; name: string; spec: LayerSpec }, size: [number, number], kernel: [number, number], strides: [number, number], padding: Padding, dilations: [number, number], isPool: boolean): Window {
  let pads: [number, number, number, number];
  if (padding === 'valid') pads = [0, 0, 0, 0];
  else if (padding === 'same') {
    // As ONNX SAME_UPPER: output = ceil(in / stride), any odd pad goes at the end.
    const total = [0, 1].map((a) => Math.max((Math.ceil(size[a]! / strides[a]!) - 1) * strides[a]! + dilations[a]! * (kernel[a]! - 1) + 1 - size[a]!, 0));
    pads = [Math.floor(total[0]! / 2), Math.floor(total[1]! / 2), total[0]! - Math.floor(total[0]! / 2), total[1]! - Math.floor(total[1]! / 2)];
  } else if (typeof padding === 'number') pads = [padding, padding, padding, padding];
  else if (padding.length === 2) pads = [padding[0], padding[1], padding[0], padding[1]];
  else pads = [padding[0], padding[1], padding[2], padding[3]];
  if (isPool && pads.some((p, i) => p >= kernel[i % 2]!)) {
    fail([...l.path, 'padding'], `${formatPath([...l.path, 'padding'])} must be smaller than the kernel ${show(kernel)} of a pooling window, got pads ${show(pads)}`);
  }
  return { kernel, strides, pads, dilations };
}

/** floor((in + pad_begin + pad_end − dilation·(k−1) − 1) / stride) + 1 per spatial axis. */
function windowOutput(size: [number, number], w: Window, l: { path: Path; name: string; spec: LayerSpec }): [number, number] {
  const o = [0, 1].map((a) => Math.floor((size[a]! + w.pads[a]! + w.pads[a + 2]! - w.dilations[a]! * (w.kernel[a]! - 1) - 1) / w.strides[a]!) + 1);
  if (o[0]! < 1 || o[1]! < 1) fail(l.path, `${describe(l)}: a ${show(w.kernel)} window (dilation ${show(w.dilations)}, pads ${show(w.pads)}) does not fit the ${size[0]}×${size[1]} input`);
  return [o[0]!, o[1]!];
}
