/**
 * Protobuf encoding of the two messages that carry tensor bytes (TensorChunk, and ResultChunk
 * which wraps one), by hand, because ts-proto's generated code is costly for megabyte payloads:
 * its writer grows a buffer by doubling, shifts the payload when it closes a nested message,
 * copies it again in finish(), and the generated gRPC serializer copies it once more with
 * Buffer.from(); its reader copies `bytes` fields with Buffer.from(). Here a message is written
 * into one buffer of its exact size (the values are copied once), and read with `data` as a view
 * into gRPC's receive buffer (gRPC allocates one per message and never reuses it).
 *
 * The bytes are exactly those ts-proto writes (test/cluster/tensor-wire.test.ts checks this), so
 * either side may use either codec: the small fields are still written by the generated code.
 */
import { BinaryReader } from '@bufbuild/protobuf/wire';
import { ResultChunk, ResultHeader, TensorChunk } from '../proto/gen/cluster.js';
import { TensorStreamError } from './errors.js';

const EMPTY = Buffer.alloc(0);
/** Field 6 (`data`), length-delimited. */
const DATA_TAG = (6 << 3) | 2;
/** ResultChunk field 2 (`tensor`), length-delimited. */
const RESULT_TENSOR_TAG = (2 << 3) | 2;

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

function writeVarint(out: Buffer, pos: number, n: number): number {
  while (n >= 0x80) {
    out[pos++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  out[pos++] = n;
  return pos;
}

/** A TensorChunk laid out for writing: the generated code's bytes around the payload. */
interface Layout {
  /** Fields 1–5 (before `data`). */
  before: Uint8Array;
  /** Fields 7–8 (after `data`). */
  after: Uint8Array;
  data: Uint8Array;
  /** Encoded size of the whole TensorChunk. */
  size: number;
}

function layout(c: TensorChunk): Layout {
  const before = TensorChunk.encode({ tensor: c.tensor, offset: c.offset, count: c.count, codec: c.codec, scale: c.scale, data: EMPTY, version: 0, tensorCount: 0 }).finish();
  const after = TensorChunk.encode({ tensor: 0, offset: 0, count: 0, codec: '', scale: 0, data: EMPTY, version: c.version, tensorCount: c.tensorCount }).finish();
  const data = c.data;
  const dataField = data.length === 0 ? 0 : 1 + varintSize(data.length) + data.length;
  return { before, after, data, size: before.length + dataField + after.length };
}

function writeLayout(l: Layout, out: Buffer, pos: number): number {
  out.set(l.before, pos);
  pos += l.before.length;
  if (l.data.length > 0) {
    out[pos++] = DATA_TAG;
    pos = writeVarint(out, pos, l.data.length);
    out.set(l.data, pos);
    pos += l.data.length;
  }
  out.set(l.after, pos);
  return pos + l.after.length;
}

/** A TensorChunk's protobuf bytes, in one buffer of exactly their size. */
export function encodeTensorChunk(c: TensorChunk): Buffer {
  const l = layout(c);
  const out = Buffer.allocUnsafe(l.size);
  writeLayout(l, out, 0);
  return out;
}

/** A ResultChunk's protobuf bytes; a tensor part is written without intermediate copies. */
export function encodeResultChunk(m: ResultChunk): Buffer {
  if (m.tensor === undefined) {
    const bytes = ResultChunk.encode(m).finish();
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  const headerBytes = m.header === undefined ? undefined : ResultChunk.encode({ header: m.header }).finish();
  const l = layout(m.tensor);
  const out = Buffer.allocUnsafe((headerBytes?.length ?? 0) + 1 + varintSize(l.size) + l.size);
  let pos = 0;
  if (headerBytes) {
    out.set(headerBytes, 0);
    pos = headerBytes.length;
  }
  out[pos++] = RESULT_TENSOR_TAG;
  pos = writeVarint(out, pos, l.size);
  writeLayout(l, out, pos);
  return out;
}

function safeNumber(v: bigint | string, field: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new TensorStreamError(`tensor chunk field '${field}' is ${String(v)}, beyond the safe integer range`);
  return n;
}

/** Reads a TensorChunk of `length` bytes at the reader's position; `data` is a view, not a copy. */
function readTensorChunk(reader: BinaryReader, length: number): TensorChunk {
  const end = reader.pos + length;
  const c: TensorChunk = { tensor: 0, offset: 0, count: 0, codec: '', scale: 0, data: EMPTY, version: 0, tensorCount: 0 };
  while (reader.pos < end) {
    const tag = reader.uint32();
    switch (tag) {
      case 8:
        c.tensor = reader.int32();
        continue;
      case 16:
        c.offset = safeNumber(reader.uint64(), 'offset');
        continue;
      case 24:
        c.count = reader.uint32();
        continue;
      case 34:
        c.codec = reader.string();
        continue;
      case 45:
        c.scale = reader.float();
        continue;
      case DATA_TAG: {
        const bytes = reader.bytes();
        c.data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        continue;
      }
      case 56:
        c.version = safeNumber(reader.int64(), 'version');
        continue;
      case 64:
        c.tensorCount = reader.uint32();
        continue;
    }
    // Unknown fields (a newer peer) are skipped, as protobuf requires.
    if ((tag & 7) === 4 || tag === 0) break;
    reader.skip(tag & 7);
  }
  return c;
}

/** A TensorChunk from its protobuf bytes; `data` is a view into `bytes`. */
export function decodeTensorChunk(bytes: Uint8Array): TensorChunk {
  const reader = new BinaryReader(bytes);
  return readTensorChunk(reader, reader.len);
}

/** A ResultChunk from its protobuf bytes; a tensor part's `data` is a view into `bytes`. */
export function decodeResultChunk(bytes: Uint8Array): ResultChunk {
  const reader = new BinaryReader(bytes);
  const m: ResultChunk = { header: undefined, tensor: undefined };
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag === 10) {
      m.header = ResultHeader.decode(reader, reader.uint32());
      continue;
    }
    if (tag === RESULT_TENSOR_TAG) {
      m.tensor = readTensorChunk(reader, reader.uint32());
      continue;
    }
    if ((tag & 7) === 4 || tag === 0) break;
    reader.skip(tag & 7);
  }
  return m;
}
