/**
 * A bagging job on a real cluster: a coordinator process and 1 or 3 worker processes over gRPC on
 * 127.0.0.1. Every member's final parameters are bit-identical for both worker counts; each
 * member trained its planned bootstrap sample every epoch and was scored on its out-of-bag set;
 * the ensemble model the coordinator writes loads in onnxruntime and its probabilities are the
 * mean of the members' own models' softmax outputs.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { readFinalParams, readMetrics, runCluster, tinyJob } from './harness.js';
import { loadDigits } from '../../shared/data/digits.js';
import { gatherBatch } from '../../shared/data/batch.js';

const K = 3;
const job = tinyJob({ name: 'bagging', ensemble: { members: K, sample_fraction: 0.9, seed: 3 } });
// 600 samples − 100 validation − 100 test = 400 training samples; each member draws round(0.9·400).
const SAMPLES = 360;

async function run(path: string, x: ort.Tensor): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(path);
  try {
    const out = await session.run({ x });
    return out[session.outputNames[0]!]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

describe('bagging on a cluster of processes', () => {
  it('ends with bit-identical members for 1 and 3 workers and an ensemble model that averages them', async () => {
    const one = await runCluster({ job, workers: 1, timeoutMs: 120_000 });
    expect(one.exitCode, one.coordinator.stderr).toBe(0);
    const three = await runCluster({ job, workers: 3, timeoutMs: 120_000 });
    expect(three.exitCode, three.coordinator.stderr).toBe(0);

    const a = readFinalParams(one.runDir);
    const b = readFinalParams(three.runDir);
    expect(a.map((p) => p.run)).toEqual(['member-0', 'member-1', 'member-2']);
    expect(new Set(a.map((p) => p.sha256)).size).toBe(K);
    expect(b).toEqual(a);

    const summary = JSON.parse(readFileSync(join(three.runDir, 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({ kind: 'ensemble', ensemble: { members: K, model: 'model.onnx', members_in_model: [0, 1, 2] } });
    for (let k = 0; k < K; k++) {
      const dir = join(three.runDir, 'members', String(k));
      const member = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
      expect(member.epoch_sample_counts).toEqual([
        { epoch: 0, samples: SAMPLES, distinct: SAMPLES, expected: SAMPLES },
        { epoch: 1, samples: SAMPLES, distinct: SAMPLES, expected: SAMPLES },
      ]);
      expect(member.bootstrap.samples).toBe(SAMPLES);
      expect(member.bootstrap.distinct + member.bootstrap.out_of_bag).toBe(400);
      expect(member.out_of_bag.count).toBe(member.bootstrap.out_of_bag);
      const steps = readMetrics(dir).filter((m) => m.type === 'step');
      expect(steps.reduce((s, m) => s + (m.samples as number), 0)).toBe(2 * SAMPLES);
      expect(summary.members[k].out_of_bag).toEqual(member.out_of_bag);
    }

    // The ensemble model against its members on 100 digits the job never saw (it used the first 600).
    const batch = gatherBatch(loadDigits(), Array.from({ length: 100 }, (_, i) => 600 + i));
    const x = new ort.Tensor('float32', batch.x, [100, 784]);
    const probabilities = await run(join(three.runDir, 'model.onnx'), x);
    const mean = new Float64Array(1000);
    for (let k = 0; k < K; k++) {
      const logits = await run(join(three.runDir, 'members', String(k), 'model.onnx'), x);
      for (let r = 0; r < 100; r++) {
        const row = Array.from(logits.subarray(r * 10, r * 10 + 10));
        const max = Math.max(...row);
        const e = row.map((v) => Math.exp(v - max));
        const z = e.reduce((s, v) => s + v, 0);
        e.forEach((v, c) => (mean[r * 10 + c]! += v / z / K));
      }
    }
    let maxDiff = 0;
    for (let i = 0; i < 1000; i++) maxDiff = Math.max(maxDiff, Math.abs(probabilities[i]! - mean[i]!));
    expect(maxDiff).toBeLessThan(1e-6);
  }, 300_000);
});
