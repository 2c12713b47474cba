import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeCheckpoint, encodeCheckpoint, loadLatestCheckpoint, saveCheckpoint, CorruptCheckpointError } from '../../coordinator/checkpoint/file.js';

const contents = (step: number) => ({ meta: { step, note: 'é' }, tensors: [Float32Array.from([1, -2.5, Math.PI]), new Float32Array(0), Float32Array.from([step])] });

describe('checkpoint files', () => {
  it('round-trips metadata and tensors bit for bit', () => {
    const c = contents(7);
    const back = decodeCheckpoint<{ step: number }>(encodeCheckpoint(c));
    expect(back.meta).toEqual(c.meta);
    expect(back.tensors.map((t) => Array.from(t))).toEqual(c.tensors.map((t) => Array.from(t)));
  });

  it('detects a flipped byte and a truncated file', () => {
    const buf = encodeCheckpoint(contents(1));
    const flipped = Buffer.from(buf);
    flipped[flipped.length - 40] ^= 1;
    expect(() => decodeCheckpoint(flipped)).toThrow(CorruptCheckpointError);
    expect(() => decodeCheckpoint(buf.subarray(0, buf.length - 5))).toThrow(/checksum|short/);
  });

  it('keeps the newest files and falls back to the previous good one when the newest is corrupt', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gf-ckpt-'));
    for (const s of [10, 20, 30]) saveCheckpoint(dir, s, contents(s), 2);
    expect(readdirSync(dir).sort()).toEqual(['ckpt-0000000020.gfck', 'ckpt-0000000030.gfck']);
    const newest = join(dir, 'ckpt-0000000030.gfck');
    writeFileSync(newest, readFileSync(newest).subarray(0, 50));
    const bad: string[] = [];
    const got = loadLatestCheckpoint<{ step: number }>(dir, (f) => bad.push(f));
    expect(bad).toEqual(['ckpt-0000000030.gfck']);
    expect(got?.meta.step).toBe(20);
  });
});
