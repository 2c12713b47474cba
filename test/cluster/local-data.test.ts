/**
 * `workers.data: local` with real processes (test/cluster/harness.ts): workers read an IDX
 * dataset from disk through the coordinator's own loading code instead of GetData.
 *
 *  - 2 local-data workers end with the same final parameters (final-params.json) as 2 workers
 *    that got the same job's data streamed;
 *  - a worker whose copy of the data differs (a --data-root holding a file with one pixel
 *    changed) is refused with the fingerprint error and exits non-zero;
 *  - GetData on a local-data job answers FAILED_PRECONDITION.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, delimiter, join } from 'node:path';
import { status as Status, type ServiceError } from '@grpc/grpc-js';
import { encodeIdx } from '../../shared/data/idx-format.js';
import { Rng } from '../../shared/random.js';
import { CoordinatorConnection } from '../../worker/client.js';
import type { JobInput } from '../../coordinator/job/schema.js';
import { readFinalParams, runCluster, startCluster } from './harness.js';

const SIDE = 6;
const CLASSES = 3;

/** Images whose class decides which third of the pixels is bright, plus seeded noise. */
function idxFiles(n: number, seed: number): { images: Uint8Array; labels: Uint8Array } {
  const rng = Rng.seeded(seed);
  const labels = new Uint8Array(n);
  const images = new Uint8Array(n * SIDE * SIDE);
  for (let i = 0; i < n; i++) {
    const c = i % CLASSES;
    labels[i] = c;
    for (let p = 0; p < SIDE * SIDE; p++) images[i * SIDE * SIDE + p] = rng.int(0, 119) + (Math.floor((p * CLASSES) / (SIDE * SIDE)) === c ? 120 : 0);
  }
  return { images: encodeIdx({ type: 'ubyte', dims: [n, SIDE, SIDE], data: images }), labels: encodeIdx({ type: 'ubyte', dims: [n], data: labels }) };
}

function writeDataset(dir: string, tweak = false): void {
  mkdirSync(dir, { recursive: true });
  const train = idxFiles(150, 1);
  const test = idxFiles(30, 2);
  // One pixel of the last training image, inside the pixel data (after the 16-byte IDX header).
  if (tweak) train.images[train.images.length - 1] ^= 1;
  writeFileSync(join(dir, 'train-images'), train.images);
  writeFileSync(join(dir, 'train-labels'), train.labels);
  writeFileSync(join(dir, 'test-images'), test.images);
  writeFileSync(join(dir, 'test-labels'), test.labels);
}

// The harness writes the job file into a fresh folder under tmpdir(), so data in another folder
// under tmpdir() is reached by the relative path ../<folder>/<file>. A --data-root of
// <alt>/mount then resolves the same path to <alt>/<folder>/<file>.
const dataDir = mkdtempSync(join(tmpdir(), 'gradfleet-localdata-'));
const altRoot = mkdtempSync(join(tmpdir(), 'gradfleet-localdata-alt-'));
writeDataset(dataDir);
writeDataset(join(altRoot, basename(dataDir)), true);
afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(altRoot, { recursive: true, force: true });
});

// Every path must lie under an allowed folder (shared/security/paths.ts): the job's `../<folder>`
// leaves the job file's folder, so the coordinator and the workers are told to allow the data
// folders (a worker never reads where the coordinator says unless its own settings allow it).
const env = { GRADFLEET_ALLOWED_DIRS: [dataDir, altRoot].join(delimiter) };

function job(data: 'stream' | 'local'): JobInput {
  const at = (f: string) => `../${basename(dataDir)}/${f}`;
  return {
    name: `local-data-${data}`,
    seed: 11,
    model: { spec: { input: { name: 'x', shape: [SIDE * SIDE] }, layers: [{ type: 'dense', name: 'fc1', units: 16 }, { type: 'relu' }, { type: 'dense', name: 'fc2', units: CLASSES }], loss: 'cross-entropy' } },
    data: { source: 'idx', train_images: at('train-images'), train_labels: at('train-labels'), test_images: at('test-images'), test_labels: at('test-labels'), split: { validation: 30 } },
    batch: { global: 30, micro: 10 },
    epochs: 2,
    optimizer: { kind: 'sgd', lr: 0.1 },
    workers: { heartbeat: '500ms', lease: '5s', data },
  } as JobInput;
}

describe('workers.data: local', () => {
  it('trains to the same parameters as streamed data, refuses a worker with other data, and refuses GetData', async () => {
    const streamed = await runCluster({ job: job('stream'), workers: 2, env });
    expect(streamed.exitCode, `${streamed.coordinator.stdout}\n${streamed.coordinator.stderr}`).toBe(0);

    const c = await startCluster({ job: job('local'), workers: 0, env });
    try {
      // GetData is refused: the job's workers read the data themselves.
      const conn = new CoordinatorConnection(c.address);
      try {
        const reg = await conn.register({ name: 'probe', device: 'cpu', deviceDetail: 'cpu', threads: 1, version: 'test' });
        const err = (await conn.getData(reg.workerId, reg.jobId, 'features', 1).catch((e: unknown) => e)) as ServiceError;
        expect(err.code, String(err)).toBe(Status.FAILED_PRECONDITION);
        expect(err.details).toMatch(/workers\.data: local/);
        await conn.leave(reg.workerId, 'probe done');
      } finally {
        conn.close();
      }

      // A worker whose copy differs by one pixel never gets to train.
      const rogue = c.addWorker(['--data-root', join(altRoot, 'mount')]);
      if (rogue.exitCode === null) await once(rogue, 'exit');
      expect(rogue.exitCode).not.toBe(0);

      c.addWorker();
      c.addWorker();
      const local = await c.wait();
      expect(local.exitCode, c.output()).toBe(0);
      expect(local.workers.map((w) => w.code)).toEqual([rogue.exitCode, 0, 0]);
      expect(local.workers[0]!.stderr).toMatch(/local dataset fingerprint mismatch: refusing to train/);
      expect(local.workers[0]!.stderr).toMatch(/differs from the coordinator's: SHA-256 fingerprint [0-9a-f]{64}/);

      const finalLocal = readFinalParams(local.runDir);
      const finalStreamed = readFinalParams(streamed.runDir);
      expect(finalLocal.length).toBeGreaterThan(0);
      expect(finalLocal.map((p) => p.sha256)).toEqual(finalStreamed.map((p) => p.sha256));
      expect(finalLocal.map((p) => p.version)).toEqual(finalStreamed.map((p) => p.version));
    } finally {
      c.kill();
    }
  }, 60_000);
});
