/** Reading and writing ONNX model files through the ts-proto types generated from proto/onnx.proto. */
import { readFileSync, writeFileSync } from 'node:fs';
import { ModelProto, GraphProto, ValueInfoProto, TypeProto, TensorShapeProto, OperatorSetIdProto } from '../proto/gen/onnx.js';
import { OnnxFormatError } from './errors.js';
import { checkModel, checkModelFileSize, maxModelBytes } from './check.js';
import type { Dim } from './shapes.js';

export { ModelProto, GraphProto, ValueInfoProto };

/** The ONNX opset our own graphs are written in; imported models keep theirs (13..17 accepted). */
export const DEFAULT_OPSET = 17;
export const MIN_OPSET = 13;
export const MAX_OPSET = 17;
export const IR_VERSION = 8;

export function decodeModel(bytes: Uint8Array): ModelProto {
  let model: ModelProto;
  try {
    model = ModelProto.decode(bytes);
  } catch (e) {
    throw new OnnxFormatError(`not an ONNX model: the bytes do not decode as an ONNX ModelProto (truncated or corrupt: ${(e as Error).message})`, { cause: e });
  }
  if (!model.graph) throw new OnnxFormatError('not an ONNX model: it has no graph');
  return model;
}

export interface ReadModelOptions {
  /** Refuse files larger than this (default: $GRADFLEET_MAX_MODEL_BYTES, else 2 GiB; shared/onnx/check.ts). */
  maxBytes?: number;
}

/**
 * An ONNX model file from outside (a job's model.onnx, `gradfleet compile`), checked before use
 * (shared/onnx/check.ts): size limit, decodes as a ModelProto, ai.onnx opset within
 * MIN_OPSET..MAX_OPSET, a well-formed graph. Every problem is an OnnxFormatError that starts
 * with the path.
 */
export function readModel(path: string, options: ReadModelOptions = {}): ModelProto {
  checkModelFileSize(path, maxModelBytes(options.maxBytes));
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new OnnxFormatError(`cannot read ONNX model '${path}': ${(e as Error).message}`, { cause: e });
  }
  try {
    const model = decodeModel(bytes);
    checkModel(model, { minOpset: MIN_OPSET, maxOpset: MAX_OPSET });
    return model;
  } catch (e) {
    throw new OnnxFormatError(`${path}: ${(e as Error).message}`, { cause: e });
  }
}

export function encodeModel(model: ModelProto): Uint8Array {
  return ModelProto.encode(model).finish();
}

export function writeModel(path: string, model: ModelProto): void {
  writeFileSync(path, encodeModel(model));
}

/** The default-domain opset version a model imports. */
export function opsetOf(model: ModelProto): number {
  const ops = model.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  if (!ops) throw new OnnxFormatError('model imports no default-domain (ai.onnx) opset');
  return ops.version;
}

export function makeModel(graph: GraphProto, opset = DEFAULT_OPSET, producer = 'gradfleet'): ModelProto {
  return ModelProto.fromPartial({
    irVersion: IR_VERSION,
    opsetImport: [OperatorSetIdProto.fromPartial({ domain: '', version: opset })],
    producerName: producer,
    producerVersion: '0.1.0',
    graph,
  });
}

/** A graph input/output declaration. Dims: number = fixed, string = symbolic (e.g. 'N'). */
export function valueInfo(name: string, elemType: number, shape: readonly Dim[] | undefined): ValueInfoProto {
  return ValueInfoProto.fromPartial({
    name,
    type: TypeProto.fromPartial({
      tensorType: {
        elemType,
        shape: shape === undefined ? undefined : TensorShapeProto.fromPartial({ dim: shape.map((d) => (typeof d === 'number' && d >= 0 ? { dimValue: d } : { dimParam: typeof d === 'string' ? d : '' })) }),
      },
    }),
  });
}

/** Element type and shape declared by a ValueInfoProto (shape undefined when the rank is unknown). */
export function describeValueInfo(v: ValueInfoProto): { elemType: number; shape: Dim[] | undefined } {
  const tt = v.type?.tensorType;
  if (!tt) throw new OnnxFormatError(`value '${v.name}' is not a tensor`);
  const shape = tt.shape ? tt.shape.dim.map((d): Dim => (d.dimValue !== undefined ? d.dimValue : d.dimParam ? d.dimParam : '?')) : undefined;
  return { elemType: tt.elemType, shape };
}
