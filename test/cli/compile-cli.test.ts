/**
 * `gradfleet compile` as a user runs it: a real `node bin/gradfleet.mjs` process per case, its
 * exit code, its output, and the file it writes loaded in onnxruntime-node.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { writeModel } from '../../shared/onnx/model.js';
import { NodeProto } from '../../shared/proto/gen/onnx.js';
import { supportedOps } from '../../shared/autodiff/registry.js';
import '../../shared/autodiff/rules/index.js';
import { mlp } from '../autodiff/compile-fixtures.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'gradfleet.mjs');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function gradfleet(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gradfleet-cli-'));
  writeModel(join(dir, 'mlp.onnx'), mlp().model);
  const withEinsum = mlp().model;
  withEinsum.graph!.node.push(NodeProto.fromPartial({ name: 'mix', opType: 'Einsum', input: ['logits', 'logits'], output: ['mixed'], domain: '' }));
  withEinsum.graph!.output.push({ ...withEinsum.graph!.output[0]!, name: 'mixed' });
  writeModel(join(dir, 'einsum.onnx'), withEinsum);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('gradfleet compile', () => {
  it('compiles an ONNX model into a training graph onnxruntime loads, with the documented inputs and outputs', async () => {
    const out = join(dir, 'train.onnx');
    const r = await gradfleet('compile', join(dir, 'mlp.onnx'), '-o', out, '--loss', 'cross-entropy', '--correct', '--input-grad', 'x');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toMatch(/4 params \(67 values\)/);
    expect(r.stdout).toMatch(/outputs: loss, loss:logits, normalizer:logits, correct, 4 × grad:<param>, grad:x/);

    const session = await ort.InferenceSession.create(out);
    expect(session.inputNames).toEqual(['x', 'labels', 'fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']);
    expect(session.outputNames).toEqual(['loss', 'loss:logits', 'normalizer:logits', 'correct', 'grad:fc1.weight', 'grad:fc1.bias', 'grad:fc2.weight', 'grad:fc2.bias', 'grad:x']);
    const fx = mlp();
    const feeds: Record<string, ort.Tensor> = {
      x: new ort.Tensor('float32', Float32Array.from({ length: 8 }, (_, i) => i / 8 - 0.5), [2, 4]),
      labels: new ort.Tensor('int64', BigInt64Array.from([0n, 2n]), [2]),
    };
    for (const [name, values] of fx.values) feeds[name] = new ort.Tensor('float32', values, name.endsWith('bias') ? [values.length] : name === 'fc1.weight' ? [8, 4] : [8, 3]);
    const res = await session.run(feeds);
    expect(Number.isFinite(res['loss']!.data[0] as number)).toBe(true);
    expect(res['grad:fc1.weight']!.dims).toEqual([8, 4]);
    expect(res['grad:x']!.dims).toEqual([2, 4]);
    await session.release();
  });

  it('builds and compiles a model spec given with --model', async () => {
    const spec = join(dir, 'mlp.yaml');
    writeFileSync(spec, ['input: { shape: [4] }', 'layers:', '  - { type: dense, units: 8, activation: relu }', '  - { type: dropout, p: 0.2 }', '  - { type: dense, units: 3 }', 'loss: cross-entropy', 'seed: 1', ''].join('\n'));
    const out = join(dir, 'spec-train.onnx');
    const r = await gradfleet('compile', '--model', spec, '-o', out);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/4 params \(67 values\), 0 buffers, 1 dropout mask input\(s\)/);
    const session = await ort.InferenceSession.create(out);
    expect(session.inputNames.some((n) => n.startsWith('dropout_mask:'))).toBe(true);
    expect(session.outputNames.filter((n) => n.startsWith('grad:'))).toHaveLength(4);
    await session.release();
  });

  it('exits non-zero on an unsupported op, naming the op, its node and the supported ops', async () => {
    const out = join(dir, 'never.onnx');
    const r = await gradfleet('compile', join(dir, 'einsum.onnx'), '-o', out, '--loss', 'cross-entropy', '--logits', 'logits');
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain("unsupported op 'Einsum' (node 'mix')");
    expect(r.stderr).toContain(`Supported ops: ${supportedOps().join(', ')}`);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(existsSync(out)).toBe(false);
  });

  it('exits 2 with one line naming the problem for other errors', async () => {
    const missing = await gradfleet('compile', join(dir, 'absent.onnx'), '-o', join(dir, 'x.onnx'), '--loss', 'mse');
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toMatch(/^gradfleet: cannot read ONNX model '.*absent\.onnx'/);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);

    const ambiguous = await gradfleet('compile', join(dir, 'einsum.onnx'), '-o', join(dir, 'x.onnx'), '--loss', 'mse');
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toContain('the model has 2 outputs (logits, mixed); choose the one the loss reads with --logits');
  });
});
