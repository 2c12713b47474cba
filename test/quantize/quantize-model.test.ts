/**
 * `gradfleet quantize` on a model trained by a real cluster run: the int8 (QDQ) model is at least
 * 3.5× smaller and within a point of the float model's test accuracy, the fp16 model half the
 * size and within rounding, the float model's score equals the run's own summary, and the int8
 * graph holds int8 weights only.
 */
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCluster, tinyJob } from '../cluster/harness.js';
import { decodeModel } from '../../shared/onnx/model.js';
import { NODE_FLAGS } from '../../shared/node-flags.js';

const GRADFLEET_BIN = fileURLToPath(new URL('../../bin/gradfleet.mjs', import.meta.url));

describe('gradfleet quantize', () => {
  it('writes int8 and fp16 models of a trained run and scores them against it on the test split', async () => {
    const job = tinyJob({ data: { source: 'digits', limit: 3000, split: { validation: 200, test: 1000 } }, epochs: 3 } as never);
    const r = await runCluster({ job, workers: 1, timeoutMs: 120_000 });
    expect(r.exitCode).toBe(0);
    const q = spawnSync(process.execPath, [...NODE_FLAGS, GRADFLEET_BIN, 'quantize', r.runDir, '--calibration', '256'], { encoding: 'utf8' });
    expect(q.status, q.stderr).toBe(0);
    expect(q.stdout).toContain('int8: static, 2 activation ranges calibrated on 256 training samples; per-channel weights');
    const report = JSON.parse(readFileSync(join(r.runDir, 'quantize-report.json'), 'utf8')) as { variants: { variant: string; bytes: number; accuracy: number; loss: number; count: number }[] };
    const [fp32, fp16, int8] = report.variants;
    const summary = JSON.parse(readFileSync(join(r.runDir, 'summary.json'), 'utf8')) as { test: { accuracy: number; loss: number } };
    // The float model scored here is the run's own test score.
    expect(fp32!.count).toBe(1000);
    expect(fp32!.accuracy).toBe(summary.test.accuracy);
    expect(fp32!.loss).toBeCloseTo(summary.test.loss, 4);
    expect(fp32!.bytes / int8!.bytes).toBeGreaterThanOrEqual(3.5);
    expect(Math.abs(int8!.accuracy - fp32!.accuracy)).toBeLessThanOrEqual(0.01);
    expect(fp32!.bytes / fp16!.bytes).toBeGreaterThan(1.9);
    expect(Math.abs(fp16!.accuracy - fp32!.accuracy)).toBeLessThanOrEqual(0.002);
    const m = decodeModel(readFileSync(join(r.runDir, 'model.int8.onnx')));
    const ops = m.graph!.node.map((n) => n.opType);
    expect(ops.filter((o) => o === 'QuantizeLinear')).toHaveLength(2);
    expect(ops.filter((o) => o === 'DequantizeLinear')).toHaveLength(4);
    // Weights are int8 (3); only biases and scales stay float32 (1).
    const weights = m.graph!.initializer.filter((t) => t.name.endsWith('.weight_quantized'));
    expect(weights.map((t) => t.dataType)).toEqual([3, 3]);
    expect(m.graph!.initializer.some((t) => t.name === 'fc1.weight')).toBe(false);
  }, 180_000);
});
