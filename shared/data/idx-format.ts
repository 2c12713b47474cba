/**
 * The IDX file format of MNIST and Fashion-MNIST: two zero bytes, a type code, the number of
 * dimensions, each dimension as a big-endian uint32, then the values big-endian, row-major.
 */
import { DataFormatError } from './errors.js';

export const IDX_TYPES = {
  0x08: 'ubyte',
  0x09: 'sbyte',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
} as const;
export type IdxType = (typeof IDX_TYPES)[keyof typeof IDX_TYPES];

const SIZE: Record<IdxType, number> = { ubyte: 1, sbyte: 1, int16: 2, int32: 4, float32: 4, float64: 8 };
const CODE = Object.fromEntries(Object.entries(IDX_TYPES).map(([code, t]) => [t, Number(code)])) as Record<IdxType, number>;

export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  type: IdxType;
  dims: number[];
  data: IdxData;
}

/** Decodes IDX bytes (already gunzipped); `file` names the source in errors. */
export function decodeIdx(bytes: Uint8Array, file: string): IdxArray {
  const bad = (msg: string): never => {
    throw new DataFormatError(file, undefined, `not an IDX file: ${msg}`);
  };
  if (bytes.length < 4) bad(`it has ${bytes.length} bytes, fewer than the 4-byte header`);
  if (bytes[0] !== 0 || bytes[1] !== 0) bad(`it starts with bytes ${bytes[0]}, ${bytes[1]} instead of 0, 0`);
  const type = IDX_TYPES[bytes[2] as keyof typeof IDX_TYPES] as IdxType | undefined;
  if (!type) bad(`unknown type code 0x${bytes[2]!.toString(16).padStart(2, '0')} (known: ${Object.keys(IDX_TYPES).map((c) => `0x${Number(c).toString(16)}`).join(', ')})`);
  const rank = bytes[3]!;
  if (rank < 1) bad('it declares 0 dimensions');
  const headerLength = 4 + 4 * rank;
  if (bytes.length < headerLength) bad(`the header declares ${rank} dimensions but the file ends after ${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, d) => a * d, 1);
  const width = SIZE[type!];
  const expected = headerLength + count * width;
  if (bytes.length !== expected) bad(`dims [${dims}] of ${type} need ${expected} bytes, the file has ${bytes.length}`);
  return { type: type!, dims, data: readValues(view, headerLength, count, type!) };
}

function readValues(view: DataView, offset: number, count: number, type: IdxType): IdxData {
  switch (type) {
    case 'ubyte':
      return new Uint8Array(view.buffer, view.byteOffset + offset, count).slice();
    case 'sbyte':
      return new Int8Array(view.buffer, view.byteOffset + offset, count).slice();
    case 'int16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

/** Encodes an array as IDX bytes (for tools and tests that write small IDX files). */
export function encodeIdx(arr: IdxArray): Uint8Array {
  const count = arr.dims.reduce((a, d) => a * d, 1);
  if (arr.data.length !== count) throw new RangeError(`IDX dims [${arr.dims}] hold ${count} values, got ${arr.data.length}`);
  if (arr.dims.length > 255) throw new RangeError(`IDX allows at most 255 dimensions, got ${arr.dims.length}`);
  const header = 4 + 4 * arr.dims.length;
  const out = new Uint8Array(header + count * SIZE[arr.type]);
  const view = new DataView(out.buffer);
  out[2] = CODE[arr.type];
  out[3] = arr.dims.length;
  arr.dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  if (arr.type === 'ubyte' || arr.type === 'sbyte') {
    // One byte per value: no byte order; other arrays convert modulo 256 (two's complement for sbyte).
    const src = arr.data instanceof Uint8Array || arr.data instanceof Int8Array ? new Uint8Array(arr.data.buffer, arr.data.byteOffset, count) : Uint8Array.from(arr.data as ArrayLike<number>);
    out.set(src, header);
    return out;
  }
  for (let i = 0; i < count; i++) {
    const v = arr.data[i]!;
    const at = header + i * SIZE[arr.type];
    switch (arr.type) {
      case 'int16':
        view.setInt16(at, v, false);
        break;
      case 'int32':
        view.setInt32(at, v, false);
        break;
      case 'float32':
        view.setFloat32(at, v, false);
        break;
      case 'float64':
        view.setFloat64(at, v, false);
        break;
    }
  }
  return out;
}
