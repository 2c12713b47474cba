/**
 * SIGTERM drains a worker: it finishes (or hands back) the task in hand, says Leave, exits 143;
 * a worker that joins later picks up the job and the result is bit-identical to an undisturbed run.
 */
import { describe, expect, it } from 'vitest';
import { readFinalParams, readMetrics, runCluster, startCluster, tinyJob } from './harness.js';

const job = tinyJob({ name: 'drain', epochs: 4 });

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('worker drain on SIGTERM', () => {
  it('leaves cleanly mid-job, and a late worker finishes it with the parameters of an undisturbed run', async () => {
    const undisturbed = await runCluster({ job, workers: 1 });
    expect(undisturbed.exitCode, undisturbed.coordinator.stderr).toBe(0);

    const c = await startCluster({ job, workers: 1, env: { GRADFLEET_LOG_LEVEL: 'info' } });
    try {
      const stepsDone = () => {
        try {
          return readMetrics(c.runDir).filter((m) => m.type === 'step').length;
        } catch {
          return 0;
        }
      };
      await until('three training steps', () => stepsDone() >= 3, 30_000);
      const first = c.workers[0]!;
      const exited = new Promise<number | null>((r) => first.once('exit', (code) => r(code)));
      first.kill('SIGTERM');
      // Drained before the job ended: 128 + SIGTERM, not 0 (a Kubernetes Job reads 0 as "work done").
      expect(await exited).toBe(143);
      expect(c.output()).toMatch(/"reason":"SIGTERM".*"msg":"worker left"/);
      const stepsAtDrain = stepsDone();
      expect(stepsAtDrain).toBeLessThan(28);

      c.addWorker();
      const r = await c.wait(45_000);
      expect(r.exitCode, c.output()).toBe(0);
      expect(readMetrics(r.runDir).filter((m) => m.type === 'step')).toHaveLength(28);
      expect(readFinalParams(r.runDir)[0]!.sha256).toBe(readFinalParams(undisturbed.runDir)[0]!.sha256);
    } finally {
      c.kill();
    }
  });
});
