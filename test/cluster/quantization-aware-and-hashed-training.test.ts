/**
 * Quantization-aware training (`model.qat`) and hashed dense layers (`hashed: { buckets }`) on
 * real processes: a coordinator and worker child processes on 127.0.0.1.
 *
 *  - a QAT job ends bit-identical on 1 and 2 workers, differs from the same job without QAT, and
 *    exports the plain float model (no fake-quantization node) that `gradfleet quantize` turns
 *    into int8 within a point of the float model;
 *  - a job whose hidden layer is hashed into 256 buckets (100× fewer values than its 784×32
 *    matrix) trains on 2 workers above 50 % test accuracy, and its model.onnx stores the 256-value
 *    table, not the matrix.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JobInput } from '../../coordinator/job/schema.js';
import { decodeModel } from '../../shared/onnx/model.js';
import { NODE_FLAGS } from '../../shared/node-flags.js';
import { readFinalParams, runCluster, tinyJob, type ClusterResult } from './harness.js';

const GRADFLEET_BIN = fileURLToPath(new URL('../../bin/gradfleet.mjs', import.meta.url));

const data = { source: 'digits', limit: 1600, split: { validation: 200, test: 400 } };
const qatJob = (qat: boolean): JobInput => tinyJob({ name: 'qat', data, epochs: 3, optimizer: { kind: 'adam', lr: 0.003 }, model: { ...(tinyJob().model as object), ...(qat ? { qat: true } : {}) } } as Partial<JobInput>);
const hashedJob = (): JobInput =>
  tinyJob({
    name: 'hashed',
    data,
    epochs: 3,
    optimizer: { kind: 'adam', lr: 0.003 },
    model: {
      spec: {
        input: { name: 'x', shape: [784] },
        layers: [{ type: 'dense', name: 'fc1', units: 32, hashed: { buckets: 256, seed: 3 } }, { type: 'relu' }, { type: 'dense', name: 'fc2', units: 10 }],
        loss: 'cross-entropy',
      },
    },
  } as Partial<JobInput>);

const summaryOf = (r: ClusterResult) => JSON.parse(readFileSync(join(r.runDir, 'summary.json'), 'utf8')) as { test: { accuracy: number } };

describe('quantization-aware and hashed training on worker processes', () => {
  let one: ClusterResult;
  let two: ClusterResult;
  let plain: ClusterResult;
  let hashed: ClusterResult;

  beforeAll(async () => {
    one = await runCluster({ job: qatJob(true), workers: 1 });
    two = await runCluster({ job: qatJob(true), workers: 2 });
    plain = await runCluster({ job: qatJob(false), workers: 1 });
    hashed = await runCluster({ job: hashedJob(), workers: 2 });
  }, 240_000);

  it('ends a QAT job bit-identical on 1 and 2 workers, and elsewhere than without QAT', () => {
    for (const r of [one, two, plain]) expect(r.exitCode, r.coordinator.stderr).toBe(0);
    expect(readFinalParams(two.runDir)).toEqual(readFinalParams(one.runDir));
    expect(readFinalParams(plain.runDir)[0]!.sha256).not.toBe(readFinalParams(one.runDir)[0]!.sha256);
    expect(summaryOf(one).test.accuracy).toBeGreaterThan(0.8);
  });

  it('exports the QAT model as the plain float model, which quantizes to int8 within a point', () => {
    const model = decodeModel(readFileSync(join(one.runDir, 'model.onnx')));
    const ops = model.graph!.node.map((n) => n.opType);
    expect(ops.filter((o) => /Quantize/.test(o))).toEqual([]);
    expect(model.graph!.node.map((n) => n.opType)).toEqual(decodeModel(readFileSync(join(plain.runDir, 'model.onnx'))).graph!.node.map((n) => n.opType));
    const q = spawnSync(process.execPath, [...NODE_FLAGS, GRADFLEET_BIN, 'quantize', one.runDir, '--calibration', '256'], { encoding: 'utf8' });
    expect(q.status, q.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(one.runDir, 'quantize-report.json'), 'utf8')) as { variants: { variant: string; accuracy: number }[] };
    const [fp32, , int8] = report.variants;
    expect(fp32!.accuracy).toBe(summaryOf(one).test.accuracy);
    expect(Math.abs(int8!.accuracy - fp32!.accuracy)).toBeLessThanOrEqual(0.01);
  });

  it('trains a hashed layer whose model stores the 256-value table instead of the 784×32 matrix', () => {
    expect(hashed.exitCode, hashed.coordinator.stderr).toBe(0);
    const model = decodeModel(readFileSync(join(hashed.runDir, 'model.onnx')));
    const sizes = Object.fromEntries(model.graph!.initializer.map((t) => [t.name, t.dims.reduce((a, d) => a * Number(d), 1)]));
    expect(sizes['fc1.weight_table']).toBe(256);
    expect(sizes['fc1.weight']).toBeUndefined();
    // 256 + 32 + 32·10 + 10 float32 values and the graph: far below the 784·32 matrix's 100 KB.
    expect(statSync(join(hashed.runDir, 'model.onnx')).size).toBeLessThan(20_000);
    expect(summaryOf(hashed).test.accuracy).toBeGreaterThan(0.5);
  });
});
