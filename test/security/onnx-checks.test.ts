/**
 * ONNX files are checked before use (shared/onnx/check.ts, through readModel: a job's
 * model.onnx and `gradfleet compile`): a truncated file, garbage bytes, a missing or unsupported
 * opset, a dangling node input, duplicate names, external data and an oversized file are each
 * refused with a message naming the problem; PyTorch-exported models still load.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelProto, OperatorSetIdProto, TensorProto_DataLocation } from '../../shared/proto/gen/onnx.js';
import { encodeModel, readModel, MAX_OPSET, MIN_OPSET } from '../../shared/onnx/model.js';
import { DEFAULT_MAX_MODEL_BYTES, MAX_MODEL_BYTES_ENV, maxModelBytes } from '../../shared/onnx/check.js';
import { OnnxFormatError } from '../../shared/onnx/errors.js';
import { runCompile } from '../../shared/cli/compile-command.js';
import { loadJob, parseJob } from '../../coordinator/job/load.js';
import { Rng } from '../../shared/random.js';

const FIXTURES = 'test/fixtures/torch';
const dir = mkdtempSync(join(tmpdir(), 'gradfleet-onnx-checks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const valid = () => ModelProto.decode(readFileSync(join(FIXTURES, 'mlp-op17.onnx')));
let n = 0;
function file(bytes: Uint8Array | ModelProto): string {
  const path = join(dir, `m${n++}.onnx`);
  writeFileSync(path, bytes instanceof Uint8Array ? bytes : encodeModel(bytes));
  return path;
}
const refused = (path: string, message: RegExp, maxBytes?: number) => {
  expect(() => readModel(path, maxBytes === undefined ? {} : { maxBytes })).toThrow(OnnxFormatError);
  expect(() => readModel(path, maxBytes === undefined ? {} : { maxBytes })).toThrow(message);
};

describe('ONNX model checks', () => {
  it('every PyTorch-exported fixture still loads (opsets 13, 14, 17)', () => {
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.onnx'));
    expect(files.length).toBeGreaterThan(4);
    for (const f of files) expect(readModel(join(FIXTURES, f)).graph!.node.length, f).toBeGreaterThan(0);
  });

  it('refuses a truncated file', () => {
    const bytes = readFileSync(join(FIXTURES, 'mlp-op17.onnx'));
    const path = file(bytes.subarray(0, Math.floor(bytes.length / 2)));
    refused(path, new RegExp(`^${path}: not an ONNX model: the bytes do not decode as an ONNX ModelProto \\(truncated or corrupt`));
  });

  it('refuses garbage bytes and an empty file', () => {
    const rng = Rng.seeded(7);
    const garbage = new Uint8Array(4096).map(() => rng.int(0, 255));
    refused(file(garbage), /not an ONNX model/);
    refused(file(new TextEncoder().encode('#!/bin/sh\nrm -rf /\n')), /not an ONNX model/);
    refused(file(new Uint8Array(0)), /not an ONNX model: the file is empty/);
  });

  it('refuses a model without an ai.onnx opset, or with an unsupported one', () => {
    const none = valid();
    none.opsetImport = [];
    refused(file(none), /has no opset_import for the default domain \(ai\.onnx\)/);
    const other = valid();
    other.opsetImport = [OperatorSetIdProto.fromPartial({ domain: 'com.example', version: 1 })];
    refused(file(other), /has no opset_import for the default domain/);
    for (const version of [MIN_OPSET - 1, MAX_OPSET + 1, 0]) {
      const m = valid();
      m.opsetImport = [OperatorSetIdProto.fromPartial({ domain: '', version })];
      refused(file(m), new RegExp(`imports ai\\.onnx opset ${version}, which is unsupported: gradfleet compiles opsets ${MIN_OPSET} to ${MAX_OPSET}`));
    }
    const twice = valid();
    twice.opsetImport.push(OperatorSetIdProto.fromPartial({ domain: 'ai.onnx', version: 13 }));
    refused(file(twice), /imports the default domain \(ai\.onnx\) opset 2 times/);
  });

  it('refuses a dangling node input, and nodes out of topological order', () => {
    const dangling = valid();
    const node = dangling.graph!.node[1]!;
    node.input[0] = 'nowhere';
    refused(file(dangling), new RegExp(`node 1( '${node.name}')? \\(${node.opType}\\) reads 'nowhere', which no earlier node, initializer or graph input produces`));
    const reversed = valid();
    reversed.graph!.node.reverse();
    refused(file(reversed), /which no earlier node, initializer or graph input produces/);
  });

  it('refuses duplicate names: graph outputs, node outputs, inputs, initializers', () => {
    const outputs = valid();
    outputs.graph!.output.push({ ...outputs.graph!.output[0]! });
    refused(file(outputs), new RegExp(`duplicate graph output name '${outputs.graph!.output[0]!.name}'`));
    const nodeOut = valid();
    nodeOut.graph!.node[1]!.output[0] = nodeOut.graph!.node[0]!.output[0]!;
    refused(file(nodeOut), /outputs '.*', a name already produced by node 0.*\(duplicate name\)/);
    const inputs = valid();
    inputs.graph!.input.push({ ...inputs.graph!.input[0]! });
    refused(file(inputs), /duplicate graph input name/);
    const inits = valid();
    inits.graph!.initializer.push({ ...inits.graph!.initializer[0]! });
    refused(file(inits), /duplicate initializer name/);
    const shadow = valid();
    shadow.graph!.node[0]!.output[0] = shadow.graph!.initializer[0]!.name;
    refused(file(shadow), /a name already produced by an initializer/);
  });

  it('refuses a graph output nothing produces, and a graph without outputs', () => {
    const m = valid();
    m.graph!.output[0]!.name = 'ghost';
    refused(file(m), /graph output 'ghost' is produced by no node, initializer or graph input/);
    const none = valid();
    none.graph!.output = [];
    refused(file(none), /the graph has no outputs/);
  });

  it('refuses an initializer that keeps its data in an external file', () => {
    const m = valid();
    const t = m.graph!.initializer[0]!;
    t.dataLocation = TensorProto_DataLocation.EXTERNAL;
    t.externalData = [{ key: 'location', value: '../../../etc/shadow' }];
    refused(file(m), new RegExp(`initializer '${t.name}' keeps its data in an external file \\('\\.\\./\\.\\./\\.\\./etc/shadow'\\)`));
  });

  it('refuses a file over the size limit before reading it (option, environment, default 2 GiB)', () => {
    const path = join(dir, 'big.onnx');
    copyFileSync(join(FIXTURES, 'mlp-op17.onnx'), path);
    const size = readFileSync(path).length;
    refused(path, new RegExp(`the model file is ${size} bytes, larger than the limit of 100 bytes \\(set ${MAX_MODEL_BYTES_ENV}`), 100);
    expect(readModel(path, { maxBytes: size }).graph).toBeDefined();
    expect(maxModelBytes(undefined, {})).toBe(DEFAULT_MAX_MODEL_BYTES);
    expect(DEFAULT_MAX_MODEL_BYTES).toBe(2 * 1024 ** 3);
    expect(maxModelBytes(undefined, { [MAX_MODEL_BYTES_ENV]: '1000' })).toBe(1000);
    expect(() => maxModelBytes(undefined, { [MAX_MODEL_BYTES_ENV]: 'lots' })).toThrow(/GRADFLEET_MAX_MODEL_BYTES must be a positive whole number/);
  });

  it('applies where models are read: a job\'s model.onnx and gradfleet compile', async () => {
    const bad = valid();
    bad.graph!.node[0]!.input[0] = 'nowhere';
    const path = file(bad);
    await expect(loadJob(parseJob({ model: { onnx: path, loss: 'cross-entropy' } }, 'test'), 'test', dir)).rejects.toThrow(/reads 'nowhere'/);
    await expect(loadJob(parseJob({ model: { onnx: join(FIXTURES, 'mlp-op17.onnx') } }, 'test'), 'test', process.cwd(), { maxModelBytes: 10 })).rejects.toThrow(/larger than the limit of 10 bytes/);
    const opts = { output: join(dir, 'train.onnx'), loss: 'cross-entropy' as const, labels: 'labels', reduction: 'mean' as const, inputGrad: [], dropout: 'mask-input' as const };
    expect(() => runCompile(path, opts)).toThrow(/reads 'nowhere'/);
    expect(() => runCompile(join(FIXTURES, 'mlp-op17.onnx'), { ...opts, maxModelBytes: 10 })).toThrow(/larger than the limit of 10 bytes/);
    expect(runCompile(join(FIXTURES, 'mlp-op17.onnx'), opts)).toMatch(/^compiled /);
  });
});
