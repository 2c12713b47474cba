/**
 * Checkpoint files: everything needed to continue a run bit-identically, in one file that is
 * written atomically and carries a SHA-256 of its contents, so a torn or corrupt file is detected
 * and the previous good one is used.
 *
 * Layout: "GFCK" u32(version=1) u32(jsonLength) json [pad to 4] float32 tensors... sha256(32 bytes of all before).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeAtomic } from '../run/outputs.js';

const MAGIC = 'GFCK';
const VERSION = 1;

export class CorruptCheckpointError extends Error {
  override name = 'CorruptCheckpointError';
}

export interface CheckpointContents<M> {
  meta: M;
  tensors: Float32Array[];
}

export function encodeCheckpoint<M>(c: CheckpointContents<M>): Buffer {
  const json = Buffer.from(JSON.stringify({ meta: c.meta, lengths: c.tensors.map((t) => t.length) }), 'utf8');
  const headLen = 12 + json.length;
  const pad = (4 - (headLen % 4)) % 4;
  const dataLen = c.tensors.reduce((a, t) => a + t.byteLength, 0);
  const buf = Buffer.alloc(headLen + pad + dataLen + 32);
  buf.write(MAGIC, 0, 'latin1');
  buf.writeUInt32LE(VERSION, 4);
  buf.writeUInt32LE(json.length, 8);
  json.copy(buf, 12);
  let off = headLen + pad;
  for (const t of c.tensors) {
    Buffer.from(t.buffer, t.byteOffset, t.byteLength).copy(buf, off);
    off += t.byteLength;
  }
  createHash('sha256').update(buf.subarray(0, off)).digest().copy(buf, off);
  return buf;
}

export function decodeCheckpoint<M>(buf: Buffer, name = 'checkpoint'): CheckpointContents<M> {
  if (buf.length < 44 || buf.toString('latin1', 0, 4) !== MAGIC) throw new CorruptCheckpointError(`${name}: not a gradfleet checkpoint (bad magic or too short)`);
  const body = buf.subarray(0, buf.length - 32);
  const sum = createHash('sha256').update(body).digest();
  if (!sum.equals(buf.subarray(buf.length - 32))) throw new CorruptCheckpointError(`${name}: checksum mismatch (truncated or corrupt)`);
  const version = buf.readUInt32LE(4);
  if (version !== VERSION) throw new CorruptCheckpointError(`${name}: unsupported checkpoint version ${version}`);
  const jsonLen = buf.readUInt32LE(8);
  const head = JSON.parse(buf.toString('utf8', 12, 12 + jsonLen)) as { meta: M; lengths: number[] };
  let off = 12 + jsonLen;
  off += (4 - (off % 4)) % 4;
  const tensors = head.lengths.map((n) => {
    const t = new Float32Array(n);
    Buffer.from(t.buffer).set(body.subarray(off, off + n * 4));
    off += n * 4;
    return t;
  });
  if (off !== body.length) throw new CorruptCheckpointError(`${name}: ${body.length - off} unexpected trailing bytes`);
  return { meta: head.meta, tensors };
}

const FILE = /^ckpt-(\d{10})\.gfck$/;

/** Writes checkpoint `step` into `dir` atomically and keeps only the newest `keep` files. */
export function saveCheckpoint<M>(dir: string, step: number, c: CheckpointContents<M>, keep: number): string {
  const path = join(dir, `ckpt-${String(step).padStart(10, '0')}.gfck`);
  writeAtomic(path, encodeCheckpoint(c));
  const files = listCheckpoints(dir);
  for (const f of files.slice(0, Math.max(0, files.length - keep))) rmSync(join(dir, f), { force: true });
  return path;
}

function listCheckpoints(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((n) => FILE.test(n)).sort();
}

/** The newest checkpoint that decodes; corrupt ones are reported through `onCorrupt` and skipped. */
export function loadLatestCheckpoint<M>(dir: string, onCorrupt: (file: string, err: Error) => void): (CheckpointContents<M> & { file: string }) | undefined {
  for (const f of listCheckpoints(dir).reverse()) {
    try {
      return { ...decodeCheckpoint<M>(readFileSync(join(dir, f)), f), file: f };
    } catch (e) {
      onCorrupt(f, e as Error);
    }
  }
  return undefined;
}
