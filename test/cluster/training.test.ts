/**
 * A coordinator and two worker processes over gRPC on 127.0.0.1 train a short job to the end.
 */
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readFinalParams, readMetrics, runCluster, tinyJob } from './harness.js';

describe('coordinator with two worker processes', () => {
  it('trains a short job to the end and every process exits 0', async () => {
    const r = await runCluster({ job: tinyJob(), workers: 2 });
    expect(r.exitCode, r.coordinator.stderr).toBe(0);
    expect(r.workers.map((w) => w.code)).toEqual([0, 0]);
    expect(r.coordinator.stdout).toContain(`run directory: ${r.runDir}`);

    // 600 samples − 100 validation − 100 test = 400 training samples; 64 per step → 7 steps per epoch, 2 epochs.
    const steps = readMetrics(r.runDir).filter((m) => m.type === 'step');
    expect(steps.map((s) => s.step)).toEqual(Array.from({ length: 14 }, (_, i) => i + 1));
    expect(steps.reduce((a, s) => a + (s.samples as number), 0)).toBe(800);
    for (const s of steps) expect(Number.isFinite(s.loss as number)).toBe(true);
    const final = readFinalParams(r.runDir);
    expect(final).toHaveLength(1);
    // 784·32 + 32 + 32·10 + 10 values; one version per step.
    expect(final[0]).toMatchObject({ version: 14, values: 25450 });
    expect(final[0]!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(existsSync(join(r.runDir, 'metrics.jsonl'))).toBe(true);
  });
});
