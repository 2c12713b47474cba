/**
 * Parameters and gradients as chunked streams: a model far beyond gRPC's 4 MiB message limit
 * trains, and the fp16 / int8 transfer codecs work end to end.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readFinalParams, readMetrics, runCluster, tinyJob, type ClusterResult } from './harness.js';

describe('tensor transfers', () => {
  it('trains a model with more than 10 million parameters (40 MB of float32 per transfer)', async () => {
    const job = tinyJob({
      name: 'big',
      model: {
        spec: {
          input: { name: 'x', shape: [784] },
          layers: [
            { type: 'dense', name: 'wide', units: 12800 },
            { type: 'relu' },
            { type: 'dense', name: 'out', units: 10 },
          ],
          loss: 'cross-entropy',
        },
      },
      data: { source: 'digits', limit: 64, split: { validation: 0, test: 0 } },
      batch: { global: 32, micro: 16 },
      epochs: 1,
    } as never);
    const r = await runCluster({ job, workers: 1, timeoutMs: 55_000 });
    expect(r.exitCode, r.coordinator.stderr).toBe(0);
    const final = readFinalParams(r.runDir)[0]!;
    expect(final.values).toBe(784 * 12800 + 12800 + 12800 * 10 + 10);
    expect(final.values).toBeGreaterThan(10_000_000);
    expect(final.version).toBe(2);
    const steps = readMetrics(r.runDir).filter((m) => m.type === 'step');
    expect(steps).toHaveLength(2);
    for (const s of steps) expect(s.grad_norm as number).toBeGreaterThan(0);
  }, 60_000);

  describe('compressed transfers', () => {
    let uncompressed: ClusterResult;
    beforeAll(async () => {
      uncompressed = await runCluster({ job: tinyJob({ name: 'codec-none' }), workers: 1 });
      expect(uncompressed.exitCode, uncompressed.coordinator.stderr).toBe(0);
    });

    it.each(['fp16', 'int8'] as const)('trains with %s-compressed transfers, reproducibly, close to the uncompressed run', async (compression) => {
      const a = uncompressed;
      const compressed = tinyJob({ name: `codec-${compression}`, workers: { heartbeat: '500ms', lease: '5s', compression } } as never);
      const [b1, b2] = await Promise.all([runCluster({ job: compressed, workers: 1 }), runCluster({ job: compressed, workers: 2 })]);
      for (const r of [b1, b2]) expect(r.exitCode, r.coordinator.stderr).toBe(0);
      // The codec rounds the same values the same way whoever computes: still bit-reproducible.
      expect(readFinalParams(b1.runDir)[0]!.sha256).toBe(readFinalParams(b2.runDir)[0]!.sha256);
      expect(readFinalParams(b1.runDir)[0]!.sha256).not.toBe(readFinalParams(a.runDir)[0]!.sha256);
      const lastLoss = (dir: string) => readMetrics(dir).filter((m) => m.type === 'step').at(-1)!.loss as number;
      expect(Math.abs(lastLoss(b1.runDir) - lastLoss(a.runDir))).toBeLessThan(0.05 * lastLoss(a.runDir));
    }, 60_000);
  });
});
