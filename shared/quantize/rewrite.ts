/**
 * Quantized copies of an inference model, as graph rewrites (pure: model in, model out).
 *
 * int8 (QDQ form, which onnxruntime runs and fuses where its kernels allow):
 *   weight W of a Gemm/MatMul/Conv ─► int8 initializer + per-channel scales
 *                                      ─► DequantizeLinear(axis) ─► the node
 *   activation a feeding that node  ─► QuantizeLinear(scale, zp: uint8) ─► DequantizeLinear ─► the node
 * Biases stay float32 (a few hundred values). The file shrinks to about a quarter.
 *
 * fp16: every float32 initializer stored as float16, with a Cast back to float32 in front of its
 * users: half the file, and the arithmetic stays float32 (onnxruntime's CPU kernels lack most
 * float16 ops).
 */
import { NodeProto, TensorProto, type ModelProto } from '../proto/gen/onnx.js';
import { DT, toFloat32 } from '../onnx/tensor.js';
import { decodeModel, encodeModel } from '../onnx/model.js';
import { encodeFloat16 } from '../tensor/fp16.js';
import { quantizableNodes } from './quantizable.js';
import { activationParams, quantizePerChannel } from './scales.js';

export type ActivationRanges = ReadonlyMap<string, { min: number; max: number }>;

/** A deep copy through the wire format: the rewrites never touch the caller's model. */
const clone = (m: ModelProto): ModelProto => decodeModel(encodeModel(m));

function raw(name: string, dataType: number, dims: readonly number[], bytes: ArrayBufferView): TensorProto {
  return TensorProto.fromPartial({ name, dataType, dims: [...dims], rawData: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) });
}

/** The int8 QDQ model; `ranges` gives each quantized node's activation range (calibration.ts). */
export function toInt8(model: ModelProto, ranges: ActivationRanges): ModelProto {
  const m = clone(model);
  const g = m.graph!;
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  const targets = quantizableNodes(g);
  const dequantizedWeight = new Map<string, string>();
  const dequantizedActivation = new Map<string, string>();
  const extraNodes: NodeProto[] = [];
  for (const t of targets) {
    // Weights: once each, even when two nodes share one (parameter sharing).
    let w = dequantizedWeight.get(t.weight);
    if (!w) {
      const src = inits.get(t.weight)!;
      const q = quantizePerChannel(toFloat32(src), src.dims.map(Number), t.axis);
      const channels = q.scales.length;
      g.initializer.push(raw(`${t.weight}_quantized`, DT.INT8, src.dims.map(Number), q.values), raw(`${t.weight}_scale`, DT.FLOAT, [channels], q.scales), raw(`${t.weight}_zero_point`, DT.INT8, [channels], new Int8Array(channels)));
      w = `${t.weight}_dequantized`;
      extraNodes.push(NodeProto.fromPartial({ opType: 'DequantizeLinear', name: `${t.weight}_DequantizeLinear`, input: [`${t.weight}_quantized`, `${t.weight}_scale`, `${t.weight}_zero_point`], output: [w], attribute: [{ name: 'axis', type: 2, i: t.axis }] }));
      dequantizedWeight.set(t.weight, w);
    }
    // Activations: a QuantizeLinear/DequantizeLinear pair per tensor, shared by its quantized users.
    let a = dequantizedActivation.get(t.activation);
    if (!a) {
      const r = ranges.get(t.activation);
      if (!r) throw new Error(`no calibration range for '${t.activation}', the input of ${t.node.opType} '${t.node.name}'`);
      const { scale, zeroPoint } = activationParams(r.min, r.max);
      const base = t.activation.replace(/[^A-Za-z0-9_.]/g, '_');
      g.initializer.push(raw(`${base}_act_scale`, DT.FLOAT, [], Float32Array.of(scale)), raw(`${base}_act_zero_point`, DT.UINT8, [], Uint8Array.of(zeroPoint)));
      a = `${base}_act_dequantized`;
      extraNodes.push(
        NodeProto.fromPartial({ opType: 'QuantizeLinear', name: `${base}_QuantizeLinear`, input: [t.activation, `${base}_act_scale`, `${base}_act_zero_point`], output: [`${base}_act_quantized`] }),
        NodeProto.fromPartial({ opType: 'DequantizeLinear', name: `${base}_act_DequantizeLinear`, input: [`${base}_act_quantized`, `${base}_act_scale`, `${base}_act_zero_point`], output: [a] }),
      );
      dequantizedActivation.set(t.activation, a);
    }
    t.node.input[0] = a;
    t.node.input[1] = w;
  }
  // The float weights are gone from the file; anything else still reading one keeps it.
  const stillRead = new Set(g.node.flatMap((n) => n.input));
  g.initializer = g.initializer.filter((t) => !dequantizedWeight.has(t.name) || stillRead.has(t.name));
  g.node = insertBeforeUsers(g.node, extraNodes);
  return m;
}

/** The model with float16 initializers and a Cast to float32 in front of their users. */
export function toFloat16(model: ModelProto): ModelProto {
  const m = clone(model);
  const g = m.graph!;
  const casts: NodeProto[] = [];
  g.initializer = g.initializer.map((t) => {
    if (t.dataType !== DT.FLOAT) return t;
    const half = encodeFloat16(toFloat32(t));
    const name = `${t.name}_fp16`;
    casts.push(NodeProto.fromPartial({ opType: 'Cast', name: `${t.name}_Cast`, input: [name], output: [t.name], attribute: [{ name: 'to', type: 2, i: DT.FLOAT }] }));
    return raw(name, DT.FLOAT16, t.dims.map(Number), half);
  });
  g.node = insertBeforeUsers(g.node, casts);
  return m;
}

/**
 * The nodes with `added` placed in topological order: each new node right after the node that
 * makes its last input (first, when it reads only initializers and graph inputs).
 */
function insertBeforeUsers(nodes: NodeProto[], added: NodeProto[]): NodeProto[] {
  const out: NodeProto[] = [];
  const pending = [...added];
  const produced = new Set<string>();
  const ready = (n: NodeProto) => n.input.every((i) => i === '' || !producedBy(i) || produced.has(i));
  const producers = new Set([...nodes, ...added].flatMap((n) => n.output));
  const producedBy = (name: string) => producers.has(name);
  const flush = () => {
    for (let moved = true; moved; ) {
      moved = false;
      for (let i = 0; i < pending.length; i++) {
        if (!ready(pending[i]!)) continue;
        const [n] = pending.splice(i, 1);
        out.push(n!);
        n!.output.forEach((o) => produced.add(o));
        moved = true;
        i--;
      }
    }
  };
  flush();
  for (const n of nodes) {
    out.push(n);
    n.output.forEach((o) => produced.add(o));
    flush();
  }
  if (pending.length > 0) throw new Error(`quantize: cannot place ${pending.map((n) => n.name).join(', ')}`);
  return out;
}
