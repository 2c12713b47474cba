/** float32 ↔ bytes: views where alignment allows, copies only for unaligned gRPC buffers. */
import { describe, expect, it } from 'vitest';
import { bytesAsFloat32, bytesAsUint16, float32AsBytes } from '../../shared/tensor/bytes.js';
import { TensorFormatError } from '../../shared/tensor/errors.js';

/** The same bytes placed at byte offset `offset` of a larger buffer, as a gRPC pool slice may be. */
function atOffset(bytes: Uint8Array, offset: number): Buffer {
  const host = Buffer.alloc(bytes.length + 8);
  Buffer.from(bytes).copy(host, offset);
  return host.subarray(offset, offset + bytes.length);
}

describe('float32 byte views', () => {
  it('writes little-endian float32 and shares the array memory', () => {
    const values = Float32Array.of(1, -2);
    const bytes = float32AsBytes(values);
    // 1.0f = 0x3F800000, −2.0f = 0xC0000000, least significant byte first
    expect([...bytes]).toEqual([0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0]);
    values[0] = 0.5; // 0x3F000000
    expect(bytes[3]).toBe(0x3f);
    expect(bytes[2]).toBe(0x00);
  });

  it('views a subarray at its own offset', () => {
    const all = Float32Array.of(1, 2, 3, 4);
    const bytes = float32AsBytes(all.subarray(1, 3));
    expect(bytes.byteOffset).toBe(4);
    expect([...bytesAsFloat32(bytes)]).toEqual([2, 3]);
  });

  it('reads 4-aligned bytes as a view, without copying', () => {
    const values = Float32Array.of(1.5, -3.25, 1e-30);
    const bytes = float32AsBytes(values);
    const back = bytesAsFloat32(bytes);
    expect(back.buffer).toBe(values.buffer);
    expect([...back]).toEqual([...values]);
  });

  it('copies bytes that sit at an unaligned offset and reads them right', () => {
    const values = Float32Array.of(1.5, -3.25, 1e-30, NaN);
    for (const offset of [1, 2, 3, 4, 5]) {
      const slice = atOffset(float32AsBytes(values), offset);
      const back = bytesAsFloat32(slice);
      expect(back.buffer === slice.buffer).toBe(offset % 4 === 0);
      expect(back.byteOffset % 4).toBe(0);
      expect(Buffer.from(back.buffer, back.byteOffset, back.byteLength).equals(slice)).toBe(true);
    }
  });

  it('rejects a byte count that is not whole values', () => {
    expect(() => bytesAsFloat32(new Uint8Array(6))).toThrow(TensorFormatError);
    expect(() => bytesAsFloat32(new Uint8Array(6))).toThrow(/6 bytes is not a whole number of 4-byte values/);
    expect(() => bytesAsUint16(new Uint8Array(3))).toThrow(/3 bytes is not a whole number of 2-byte values/);
  });
});
