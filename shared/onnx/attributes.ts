/** Reading and writing NodeProto attributes by name, with ONNX's defaults made explicit at the call site. */
import { AttributeProto, AttributeProto_AttributeType as AT, type NodeProto, type TensorProto, type GraphProto } from '../proto/gen/onnx.js';

export type AttrValue = number | string | number[] | string[] | TensorProto | { float: number } | { floats: number[] } | GraphProto;

function find(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute.find((a) => a.name === name);
}

export function hasAttr(node: NodeProto, name: string): boolean {
  return find(node, name) !== undefined;
}

export function attrInt(node: NodeProto, name: string, dflt: number): number;
export function attrInt(node: NodeProto, name: string): number | undefined;
export function attrInt(node: NodeProto, name: string, dflt?: number): number | undefined {
  const a = find(node, name);
  return a ? a.i : dflt;
}

export function attrFloat(node: NodeProto, name: string, dflt: number): number {
  const a = find(node, name);
  return a ? a.f : dflt;
}

export function attrInts(node: NodeProto, name: string): number[] | undefined;
export function attrInts(node: NodeProto, name: string, dflt: number[]): number[];
export function attrInts(node: NodeProto, name: string, dflt?: number[]): number[] | undefined {
  const a = find(node, name);
  return a ? [...a.ints] : dflt;
}

export function attrFloats(node: NodeProto, name: string): number[] | undefined {
  const a = find(node, name);
  return a ? [...a.floats] : undefined;
}

export function attrString(node: NodeProto, name: string, dflt: string): string {
  const a = find(node, name);
  return a ? Buffer.from(a.s).toString('utf8') : dflt;
}

export function attrTensor(node: NodeProto, name: string): TensorProto | undefined {
  return find(node, name)?.t;
}

/**
 * Attributes to attach to a new node. Plain numbers are INT (ONNX attributes are typed: pass
 * `{ float: x }` for a FLOAT, `{ floats: [...] }` for FLOATS); number[] is INTS; string is STRING.
 */
export function makeAttributes(attrs: Record<string, AttrValue | undefined>): AttributeProto[] {
  const out: AttributeProto[] = [];
  for (const [name, v] of Object.entries(attrs)) {
    if (v === undefined) continue;
    if (typeof v === 'number') {
      if (!Number.isInteger(v)) throw new Error(`attribute '${name}': ${v} is not an integer; pass { float: ${v} } for a FLOAT attribute`);
      out.push(AttributeProto.fromPartial({ name, type: AT.INT, i: v }));
    } else if (typeof v === 'string') out.push(AttributeProto.fromPartial({ name, type: AT.STRING, s: Buffer.from(v, 'utf8') }));
    else if (Array.isArray(v)) {
      if (v.length > 0 && typeof v[0] === 'string') out.push(AttributeProto.fromPartial({ name, type: AT.STRINGS, strings: (v as string[]).map((s) => Buffer.from(s, 'utf8')) }));
      else out.push(AttributeProto.fromPartial({ name, type: AT.INTS, ints: v as number[] }));
    } else if ('float' in v) out.push(AttributeProto.fromPartial({ name, type: AT.FLOAT, f: v.float }));
    else if ('floats' in v) out.push(AttributeProto.fromPartial({ name, type: AT.FLOATS, floats: v.floats }));
    else if ('dataType' in v) out.push(AttributeProto.fromPartial({ name, type: AT.TENSOR, t: v }));
    else out.push(AttributeProto.fromPartial({ name, type: AT.GRAPH, g: v }));
  }
  return out;
}

/** Copy of a node's attributes with some replaced or removed (undefined removes). */
export function withAttributes(node: NodeProto, changes: Record<string, AttrValue | undefined>): AttributeProto[] {
  const kept = node.attribute.filter((a) => !(a.name in changes));
  return [...kept, ...makeAttributes(changes)];
}
