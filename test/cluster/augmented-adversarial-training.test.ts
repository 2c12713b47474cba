/**
 * Augmentation and adversarial training on real processes (a coordinator and worker child
 * processes on 127.0.0.1): a small CNN with batch norm and dropout, trained on augmented digits
 * with PGD examples replacing half of every micro-batch, and scored under FGSM and PGD.
 *
 *  - 1 and 2 workers end with bit-identical parameters (augmentation and attacks draw from the
 *    sample indices and seeds, never from the worker or the batch split);
 *  - the coordinator killed with -9 in the middle of the second epoch and started again ends with
 *    the same parameters (a resumed epoch augments its samples as the undisturbed one did);
 *  - augmentation and adversarial training change the result (the same job without them ends
 *    elsewhere), and every epoch still trains on each sample exactly once;
 *  - validation and test evaluations report FGSM and PGD accuracy over every sample, below the
 *    clean accuracy, and the summary carries them; `gradfleet eval` on the exported model gives
 *    the same test figures.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../../shared/node-flags.js';
import { join } from 'node:path';
import type { JobInput } from '../../coordinator/job/schema.js';
import type { RunSummary } from '../../coordinator/run/run-records.js';
import { readFinalParams, readMetrics, runCluster, startCluster, tinyJob, type ClusterResult } from './harness.js';

const GRADFLEET_BIN = fileURLToPath(new URL('../../bin/gradfleet.mjs', import.meta.url));

const cnn = {
  spec: {
    input: { name: 'x', shape: [1, 28, 28] },
    layers: [
      { type: 'conv2d', name: 'conv1', filters: 4, kernel: 3, padding: 'same', activation: 'relu' },
      { type: 'batch_norm', name: 'bn1' },
      { type: 'maxpool2d', kernel: 2 },
      { type: 'flatten' },
      { type: 'dropout', p: 0.2 },
      { type: 'dense', name: 'fc', units: 10 },
    ],
    loss: 'cross-entropy',
  },
};

const job = (extra: Partial<JobInput>): JobInput =>
  tinyJob({
    name: 'augmented-adversarial',
    model: cnn,
    data: { source: 'digits', limit: 480, shape: [1, 28, 28], split: { validation: 80, test: 80 } },
    batch: { global: 64, micro: 16 },
    epochs: 3,
    optimizer: { kind: 'adam', lr: 0.01 },
    eval: { batch: 40 },
    checkpoint: { every_steps: 4, keep: 5 },
    ...extra,
  } as Partial<JobInput>);

// Digits: no horizontal flip (it turns some digits into others); geometric and pixel transforms keep labels.
const augment = { crop: { padding: 2 }, rotate: { max_degrees: 10, p: 0.5 }, erase: { p: 0.25, area: [0.02, 0.1] }, noise: { std: 0.05, p: 0.5 }, clamp: [0, 1] };
const adversarial = { method: 'pgd', epsilon: 0.1, steps: 3, ratio: 0.5, range: [0, 1], eval_steps: 5 };

function expectCleanExit(r: ClusterResult): void {
  expect(r.exitCode, `${r.coordinator.stdout}\n${r.coordinator.stderr}`).toBe(0);
}

describe('augmented, adversarially trained CNN on 1 and 2 worker processes', () => {
  let one: ClusterResult;
  let two: ClusterResult;
  let plain: ClusterResult;

  beforeAll(async () => {
    one = await runCluster({ job: job({ augment, adversarial } as Partial<JobInput>), workers: 1 });
    two = await runCluster({ job: job({ augment, adversarial } as Partial<JobInput>), workers: 2 });
    plain = await runCluster({ job: job({}), workers: 1 });
  }, 240_000);

  it('ends with bit-identical parameters on 1 and 2 workers', () => {
    expectCleanExit(one);
    expectCleanExit(two);
    const a = readFinalParams(one.runDir);
    expect(a.length).toBeGreaterThan(0);
    expect(readFinalParams(two.runDir)).toEqual(a);
  });

  it('changes the result against the same job trained on clean, unaugmented samples', () => {
    expectCleanExit(plain);
    expect(readFinalParams(plain.runDir)[0]!.sha256).not.toBe(readFinalParams(one.runDir)[0]!.sha256);
  });

  it('trains every epoch on each of the 320 training samples exactly once', () => {
    const summary = JSON.parse(readFileSync(join(one.runDir, 'summary.json'), 'utf8')) as RunSummary;
    expect(summary.epoch_sample_counts.map((e) => e.samples)).toEqual([320, 320, 320]);
    const steps = readMetrics(one.runDir).filter((m) => m.type === 'step');
    expect(steps.reduce((a, m) => a + (m.samples as number), 0)).toBe(960);
  });

  it('reports FGSM and PGD accuracy on validation and test, at most the clean accuracy', () => {
    const evals = readMetrics(one.runDir).filter((m) => m.type === 'eval');
    for (const split of ['validation', 'test']) {
      const last = evals.filter((m) => m.split === split).at(-1) as { accuracy: number; count: number; attacks: Record<string, { accuracy: number; loss: number }> };
      expect(last.count).toBe(80);
      expect(Object.keys(last.attacks)).toEqual(['fgsm', 'pgd']);
      for (const a of Object.values(last.attacks)) {
        expect(a.accuracy).toBeLessThanOrEqual(last.accuracy);
        // Accuracies are whole counts of right answers over the 80 samples.
        expect(a.accuracy * 80).toBeCloseTo(Math.round(a.accuracy * 80), 9);
      }
      expect(last.attacks.pgd!.loss).toBeGreaterThan(0);
    }
    const summary = JSON.parse(readFileSync(join(one.runDir, 'summary.json'), 'utf8')) as RunSummary & { test: { attacks?: Record<string, unknown> } };
    expect(Object.keys(summary.test.attacks ?? {})).toEqual(['fgsm', 'pgd']);
    expect(one.coordinator.stdout).toMatch(/FGSM accuracy/);
  });

  it('scores the exported model under attack as the run did: gradfleet eval gives the summary\'s test figures', () => {
    const e = spawnSync(process.execPath, [...NODE_FLAGS, GRADFLEET_BIN, 'eval', one.runDir, '--json', join(one.runDir, 'eval.json')], { encoding: 'utf8' });
    expect(e.status, e.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(one.runDir, 'eval.json'), 'utf8')) as { clean: { accuracy: number }; attacks: { method: string; accuracy: number }[] };
    const summary = JSON.parse(readFileSync(join(one.runDir, 'summary.json'), 'utf8')) as { test: { accuracy: number; attacks: Record<string, { accuracy: number }> } };
    expect(report.clean.accuracy).toBe(summary.test.accuracy);
    expect(Object.fromEntries(report.attacks.map((a) => [a.method, a.accuracy]))).toEqual({ fgsm: summary.test.attacks.fgsm!.accuracy, pgd: summary.test.attacks.pgd!.accuracy });
  });

  it('scores the same adversarial figures on 1 and 2 workers', () => {
    const attacks = (r: ClusterResult) => readMetrics(r.runDir).filter((m) => m.type === 'eval').map((m) => ({ split: m.split, accuracy: m.accuracy, attacks: m.attacks }));
    expect(attacks(two)).toEqual(attacks(one));
  });

  it('resumes after the coordinator is killed with -9 mid-epoch and ends bit-identical', async () => {
    const c = await startCluster({ job: job({ augment, adversarial } as Partial<JobInput>), workers: 2 });
    try {
      // Checkpoint at step 8: three steps into the second epoch (5 steps an epoch).
      const deadline = Date.now() + 60_000;
      while (!existsSync(join(c.runDir, 'checkpoints', `ckpt-${String(8).padStart(10, '0')}.gfck`))) {
        if (Date.now() > deadline) throw new Error(`no checkpoint at step 8 within 60 s\n${c.output()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      c.coordinator.kill('SIGKILL');
      expect((await c.coordinatorExited()).signal).toBe('SIGKILL');
      const stepsBefore = readMetrics(c.runDir).filter((m) => m.type === 'step').length;
      expect(stepsBefore).toBeLessThan(15);
      await c.restartCoordinator();
      const r = await c.wait(120_000);
      expectCleanExit(r);
      expect(readMetrics(r.runDir).filter((m) => m.type === 'resume')).toHaveLength(1);
      expect(readFinalParams(r.runDir)).toEqual(readFinalParams(one.runDir));
    } finally {
      c.kill();
    }
  }, 180_000);

  it('leaves jobs without augment or adversarial blocks without attack figures', () => {
    expect(readMetrics(plain.runDir).filter((m) => m.type === 'eval' && m.attacks !== undefined)).toEqual([]);
  });
});
