/**
 * TensorProto <-> typed arrays. Initializers and constants always go through here, so the
 * three ways ONNX may store numbers (raw_data, float_data, int64_data...) are handled once.
 */
import { TensorProto, TensorProto_DataType as DT } from '../proto/gen/onnx.js';
import { OnnxFormatError } from './errors.js';

export { DT };

export function float32Tensor(name: string, dims: readonly number[], data: Float32Array | readonly number[]): TensorProto {
  const arr = data instanceof Float32Array ? data : Float32Array.from(data);
  checkSize(name, dims, arr.length);
  return TensorProto.fromPartial({
    name,
    dims: [...dims],
    dataType: DT.FLOAT,
    rawData: Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength),
  });
}

export function int64Tensor(name: string, dims: readonly number[], data: readonly number[] | BigInt64Array): TensorProto {
  const arr = data instanceof BigInt64Array ? data : BigInt64Array.from(data.map((v) => BigInt(v)));
  checkSize(name, dims, arr.length);
  return TensorProto.fromPartial({
    name,
    dims: [...dims],
    dataType: DT.INT64,
    rawData: Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength),
  });
}

export function boolTensor(name: string, dims: readonly number[], data: readonly boolean[]): TensorProto {
  checkSize(name, dims, data.length);
  return TensorProto.fromPartial({ name, dims: [...dims], dataType: DT.BOOL, rawData: Buffer.from(data.map((b) => (b ? 1 : 0))) });
}

function checkSize(name: string, dims: readonly number[], n: number): void {
  const want = dims.reduce((a, b) => a * b, 1);
  if (want !== n) throw new OnnxFormatError(`tensor '${name}': dims [${dims}] hold ${want} values, got ${n}`);
}

export function tensorSize(t: TensorProto): number {
  return t.dims.reduce((a, b) => a * b, 1);
}

function rawView(t: TensorProto): Buffer | undefined {
  if (t.dataLocation === 1) throw new OnnxFormatError(`tensor '${t.name}' uses external data, which gradfleet does not read; re-export without external data`);
  return t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
}

/** The values of a float tensor (FLOAT or DOUBLE), as a fresh Float32Array. */
export function toFloat32(t: TensorProto): Float32Array {
  const n = tensorSize(t);
  const raw = rawView(t);
  if (t.dataType === DT.FLOAT) {
    if (raw) {
      const out = new Float32Array(n);
      new Uint8Array(out.buffer).set(raw.subarray(0, n * 4));
      return out;
    }
    if (t.floatData.length !== n) throw new OnnxFormatError(`tensor '${t.name}': expected ${n} floats, found ${t.floatData.length}`);
    return Float32Array.from(t.floatData);
  }
  if (t.dataType === DT.DOUBLE) {
    if (raw) {
      const d = new Float64Array(n);
      new Uint8Array(d.buffer).set(raw.subarray(0, n * 8));
      return Float32Array.from(d);
    }
    return Float32Array.from(t.doubleData);
  }
  throw new OnnxFormatError(`tensor '${t.name}' has data type ${DT[t.dataType] ?? t.dataType}, expected FLOAT`);
}

/** The values of an integer tensor (INT64, INT32, INT8, UINT8, BOOL) as JS numbers. */
export function toIntArray(t: TensorProto): number[] {
  const n = tensorSize(t);
  const raw = rawView(t);
  switch (t.dataType) {
    case DT.INT64:
      if (raw) {
        const a = new BigInt64Array(n);
        new Uint8Array(a.buffer).set(raw.subarray(0, n * 8));
        return Array.from(a, (v) => Number(v));
      }
      return t.int64Data.map(Number);
    case DT.INT32:
      if (raw) {
        const a = new Int32Array(n);
        new Uint8Array(a.buffer).set(raw.subarray(0, n * 4));
        return Array.from(a);
      }
      return [...t.int32Data];
    case DT.INT8:
    case DT.UINT8:
    case DT.BOOL:
      if (raw) return Array.from(t.dataType === DT.INT8 ? new Int8Array(raw.buffer, raw.byteOffset, n) : raw.subarray(0, n));
      return [...t.int32Data];
    case DT.FLOAT:
    case DT.DOUBLE:
      return Array.from(toFloat32(t));
    default:
      throw new OnnxFormatError(`tensor '${t.name}' has data type ${DT[t.dataType] ?? t.dataType}, expected an integer type`);
  }
}

/** Numbers of any numeric tensor (for constant folding in shape inference). */
export function toNumbers(t: TensorProto): number[] {
  return t.dataType === DT.FLOAT || t.dataType === DT.DOUBLE ? Array.from(toFloat32(t)) : toIntArray(t);
}
