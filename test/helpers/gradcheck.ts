/**
 * Numerical gradient check for one op (or a small subgraph): builds loss = Σ_k Σ(Y_k · R_k) with
 * fixed random R_k, differentiates it with our backward walk, runs the result in onnxruntime-node
 * and compares every analytic gradient element (up to `maxChecks` per input) with a central
 * difference of the same graph's loss. NaN anywhere fails.
 */
import * as ort from 'onnxruntime-node';
import { GraphProto } from '../../shared/proto/gen/onnx.js';
import { GraphBuilder } from '../../shared/onnx/builder.js';
import { encodeModel, makeModel, valueInfo, DEFAULT_OPSET } from '../../shared/onnx/model.js';
import { DT, float32Tensor, int64Tensor } from '../../shared/onnx/tensor.js';
import { inferGraph } from '../../shared/autodiff/infer.js';
import { backward } from '../../shared/autodiff/backward.js';
import '../../shared/autodiff/rules/index.js';
import { Rng } from '../../shared/random.js';

export interface CaseInput {
  name: string;
  shape: number[];
  /** 'float' inputs are differentiated unless wrt is false; 'int64' ones never are. */
  type?: 'float' | 'int64';
  /** Fixed values; otherwise uniform in [lo, hi] (float) or [0, hi) (int64). */
  values?: number[];
  lo?: number;
  hi?: number;
  wrt?: boolean;
  /** Feed as an initializer (constant) instead of a graph input. */
  constant?: boolean;
}

export interface GradCase {
  inputs: CaseInput[];
  /** Builds the op(s) under test; returns the float outputs that enter the loss. */
  build(b: GraphBuilder, names: string[]): string[];
  opset?: number;
  seed?: number;
  eps?: number;
  atol?: number;
  rtol?: number;
  maxChecks?: number;
  /** Moves points off kinks (e.g. ReLU at 0): applied to every float input value. */
  avoid?: (v: number) => number;
}

export interface GradResult {
  maxAbsErr: number;
  worst: string;
  checked: number;
  analytic: Record<string, Float32Array>;
}

export async function gradcheck(c: GradCase): Promise<GradResult> {
  const rng = Rng.seeded(c.seed ?? 7);
  const opset = c.opset ?? DEFAULT_OPSET;
  const b = new GraphBuilder(c.inputs.map((i) => i.name));
  const feeds: Record<string, ort.Tensor> = {};
  const floatVals: Record<string, Float32Array> = {};
  const graphInputs = [];
  for (const inp of c.inputs) {
    if (inp.type === 'int64') {
      const vals = inp.values ?? Array.from({ length: inp.shape.reduce((a, d) => a * d, 1) }, () => rng.int(0, (inp.hi ?? 2) - 1));
      if (inp.constant) b.initializer(int64Tensor(inp.name, inp.shape, vals));
      else {
        feeds[inp.name] = new ort.Tensor('int64', BigInt64Array.from(vals.map(BigInt)), inp.shape);
        graphInputs.push(valueInfo(inp.name, DT.INT64, inp.shape));
      }
      continue;
    }
    const n = inp.shape.reduce((a, d) => a * d, 1);
    let vals = inp.values ? Float32Array.from(inp.values) : rng.floats(n, inp.lo ?? -1, inp.hi ?? 1);
    if (c.avoid) vals = vals.map(c.avoid);
    if (inp.constant) b.initializer(float32Tensor(inp.name, inp.shape, vals));
    else {
      floatVals[inp.name] = vals;
      graphInputs.push(valueInfo(inp.name, DT.FLOAT, inp.shape));
    }
  }
  const outs = c.build(b, c.inputs.map((i) => i.name));

  // Forward graph first, to learn the outputs' shapes for the random cotangents R_k.
  const fwd = GraphProto.fromPartial({ node: [...b.nodes], initializer: [...b.initializers], input: graphInputs, output: [] });
  const facts0 = inferGraph(fwd, opset);
  const terms: string[] = [];
  for (const o of outs) {
    const shape = facts0.info.get(o)?.shape;
    if (!shape || shape.some((d) => typeof d !== 'number')) throw new Error(`gradcheck: output '${o}' needs a static shape, got ${shape}`);
    const dims = shape as number[];
    const r = b.initializer(float32Tensor(b.fresh(`R_${o}`), dims, rng.floats(dims.reduce((a, d) => a * d, 1), -1, 1)));
    terms.push(b.op('ReduceSum', [b.op('Mul', [o, r])], { keepdims: 0 }));
  }
  let loss = terms[0]!;
  for (const t of terms.slice(1)) loss = b.op('Add', [loss, t]);
  const lossName = b.op('Identity', [loss], {}, 'loss');

  const graph = GraphProto.fromPartial({ node: [...b.nodes], initializer: [...b.initializers], input: graphInputs, output: [] });
  const facts = inferGraph(graph, opset);
  const wrt = c.inputs.filter((i) => i.type !== 'int64' && !i.constant && i.wrt !== false).map((i) => i.name);
  const grads = backward({ graph, facts, opset, loss: lossName, wrt, b });
  graph.node = [...b.nodes];
  graph.initializer = [...b.initializers];
  graph.output = [valueInfo(lossName, DT.FLOAT, []), ...wrt.map((w) => valueInfo(grads.get(w)!, DT.FLOAT, undefined))];
  const session = await ort.InferenceSession.create(encodeModel(makeModel(graph, opset)));

  const feed = (override?: [string, Float32Array]) => {
    const f: Record<string, ort.Tensor> = { ...feeds };
    for (const inp of c.inputs) {
      if (!(inp.name in floatVals)) continue;
      const v = override && override[0] === inp.name ? override[1] : floatVals[inp.name]!;
      f[inp.name] = new ort.Tensor('float32', v, inp.shape);
    }
    return f;
  };
  const base = await session.run(feed());
  const analytic: Record<string, Float32Array> = {};
  for (const w of wrt) analytic[w] = base[grads.get(w)!]!.data as Float32Array;

  const eps = c.eps ?? 1e-2;
  const atol = c.atol ?? 2e-3;
  const rtol = c.rtol ?? 2e-2;
  let maxAbsErr = 0;
  let worst = '';
  let checked = 0;
  let failure = '';
  for (const w of wrt) {
    const x = floatVals[w]!;
    const g = analytic[w]!;
    if (g.length !== x.length) throw new Error(`gradient of '${w}' has ${g.length} elements, the input has ${x.length}`);
    const idx = pick(x.length, c.maxChecks ?? 48, rng);
    for (const k of idx) {
      const xp = Float32Array.from(x);
      xp[k] = x[k]! + eps;
      const lp = (await session.run(feed([w, xp])))[lossName]!.data[0] as number;
      xp[k] = x[k]! - eps;
      const lm = (await session.run(feed([w, xp])))[lossName]!.data[0] as number;
      const num = (lp - lm) / (2 * eps);
      const a = g[k]!;
      const err = Math.abs(a - num);
      checked++;
      if (!Number.isFinite(a) || !Number.isFinite(num)) failure ||= `${w}[${k}]: analytic ${a}, numeric ${num} (not finite)`;
      else if (err > atol + rtol * Math.abs(num)) failure ||= `${w}[${k}]: analytic ${a}, numeric ${num}, |diff| ${err}`;
      if (err > maxAbsErr || Number.isNaN(err)) {
        maxAbsErr = err;
        worst = `${w}[${k}]`;
      }
    }
  }
  if (failure) throw new Error(`gradient check failed: ${failure}`);
  return { maxAbsErr, worst, checked, analytic };
}

function pick(n: number, max: number, rng: Rng): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  return Array.from(rng.permutation(n).slice(0, max));
}
