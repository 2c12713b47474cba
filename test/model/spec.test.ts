import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseModelSpec, loadModelSpec } from '../../shared/model/load.js';
import { ModelSpecError } from '../../shared/model/errors.js';
import { LAYER_TYPES, type ModelSpecInput } from '../../shared/model/spec.js';
import { specError } from './helpers.js';

const mlp = (layers: unknown[], extra: Record<string, unknown> = {}): unknown => ({ input: { shape: [784] }, layers, seed: 1, ...extra });


describe('model spec validation names the field path and the bad value', () => {
  it('rejects a negative unit count', () => {
    const e = specError(mlp([{ type: 'dense', units: 10 }, { type: 'relu' }, { type: 'dense', units: -3 }]));
    expect(e.issues).toHaveLength(1);
    expect(e.issues[0]!.path).toEqual(['layers', 2, 'units']);
    expect(e.issues[0]!.message).toBe('layers[2].units must be a positive integer, got -3');
  });

  it('rejects an unknown layer type and lists the known ones', () => {
    const e = specError(mlp([{ type: 'densse', units: 10 }]));
    expect(e.message).toContain("layers[0].type must be a layer type, got 'densse'");
    for (const t of LAYER_TYPES) expect(e.message).toContain(t);
  });

  it('rejects a share naming no earlier weight layer, listing the candidates', () => {
    const e = specError(mlp([{ type: 'dense', name: 'enc1', units: 32 }, { type: 'relu', name: 'act' }, { type: 'dense', share: 'enc9', transpose: true }]));
    expect(e.issues[0]!.path).toEqual(['layers', 2, 'share']);
    expect(e.message).toContain("layers[2].share must name a dense, conv2d or embedding layer defined before this one, got 'enc9'; candidates: enc1");
    // A non-weight layer is no share target either.
    expect(specError(mlp([{ type: 'dense', name: 'enc1', units: 32 }, { type: 'relu', name: 'act' }, { type: 'dense', share: 'act' }])).message).toContain("got 'act'");
  });

  it('rejects a shared weight whose size does not fit, and suggests transpose', () => {
    const e = specError(mlp([{ type: 'dense', name: 'enc1', units: 32 }, { type: 'dense', share: 'enc1' }]));
    expect(e.message).toContain("'enc1' weight [32,784] takes 784 inputs, but layers[1] (dense 'dense_1') receives 32; set transpose: true");
  });

  it('reports every field problem at once, unknown keys with the allowed ones', () => {
    const e = specError({ input: { shape: [784] }, layers: [{ type: 'dense', unit: 10 }, { type: 'dropout', p: 1.5 }], seed: 'x' });
    const messages = e.issues.map((i) => i.message);
    expect(messages).toContain("layers[0] has unknown key 'unit'; allowed: type, name, units, bias, activation, init, share, transpose, hashed");
    expect(messages).toContain('layers[1].p must be a probability in [0, 1), got 1.5');
    expect(messages).toContain("seed must be an integer, got 'x'");
  });

  it('says when a required field is missing', () => {
    expect(specError({ layers: [{ type: 'relu' }], seed: 1 }).message).toContain('input is required');
    expect(specError(mlp([{ type: 'dense' }])).message).toContain('layers[0].units is required: it must be a positive integer (or set share)');
    expect(specError(mlp([{ units: 3 }])).message).toContain('layers[0].type is missing: it must be a layer type');
  });

  it('checks shapes across layers: dense after an image needs a flatten', () => {
    const e = specError({ input: { shape: [1, 28, 28] }, layers: [{ type: 'conv2d', filters: 4, kernel: 3 }, { type: 'dense', units: 10 }], seed: 1 });
    expect(e.message).toContain("layers[1] (dense 'dense_1') needs a flat [features] input per sample, got [4,26,26]; add a flatten layer before it");
  });

  it('checks conv windows, groups and reshape targets', () => {
    const img = (layers: unknown[]) => ({ input: { shape: [3, 8, 8] }, layers, loss: 'mse', seed: 1 });
    expect(specError(img([{ type: 'conv2d', filters: 4, kernel: 9 }])).message).toContain('does not fit the 8×8 input');
    expect(specError(img([{ type: 'conv2d', filters: 4, kernel: 3, groups: 2 }])).message).toContain('layers[0].groups must divide the 3 input channels, got 2');
    expect(specError(img([{ type: 'reshape', shape: [5, -1] }])).message).toContain('layers[0].shape [5,-1] does not fit the 192 values of input [3,8,8]');
    expect(specError(img([{ type: 'maxpool2d', kernel: 2, padding: 2 }])).message).toContain('must be smaller than the kernel');
  });

  it('checks heads: from, dead trunk layers, a softmax before cross-entropy, class weights', () => {
    const trunk = [{ type: 'dense', name: 'feat', units: 16 }, { type: 'relu', name: 'act' }];
    expect(specError(mlp(trunk, { heads: [{ name: 'a', from: 'nope', layers: [{ type: 'dense', units: 2 }] }] })).message).toContain("heads[0].from must name a trunk layer, got 'nope'; trunk layers: feat, act");
    expect(specError(mlp(trunk, { heads: [{ name: 'a', from: 'feat', layers: [{ type: 'dense', units: 2 }] }] })).message).toContain("layers[1] (relu 'act') feeds no head");
    expect(specError(mlp([...trunk, { type: 'dense', units: 10 }, { type: 'softmax' }])).message).toContain('uses cross-entropy, which applies softmax itself');
    expect(specError(mlp([{ type: 'dense', units: 10 }], { class_weights: [1, 2] })).message).toContain("class_weights has 2 entries, but the model's output (head 'out') has 10 classes");
    expect(specError(mlp(trunk, { loss: 'mse', heads: [{ name: 'a', layers: [{ type: 'dense', units: 2 }] }] })).message).toContain('loss applies to the single default head');
    expect(specError(mlp(trunk, { heads: [{ name: 'a', layers: [{ type: 'dense', units: 2 }] }, { name: 'a', layers: [{ type: 'dense', units: 2 }] }] })).message).toContain("head name 'a' is already used by heads[0]");
  });

  it('rejects duplicate layer names and names that would break initializer names', () => {
    expect(specError(mlp([{ type: 'dense', name: 'fc', units: 4 }, { type: 'dense', name: 'fc', units: 4 }])).message).toContain("layer name 'fc' is already used by layers[0].name");
    expect(specError(mlp([{ type: 'dense', name: 'fc.1', units: 4 }])).message).toContain("layers[0].name must be a name (letters, digits, _ and -, not starting with a digit), got 'fc.1'");
  });

  it('fills defaults', () => {
    const spec = parseModelSpec(mlp([{ type: 'dense', units: 10 }]) as ModelSpecInput);
    expect(spec.input).toEqual({ name: 'x', shape: [784], type: 'float' });
    expect(spec.layers[0]).toEqual({ type: 'dense', units: 10, bias: true, activation: 'none', transpose: false });
    expect(spec.init).toEqual({ weights: 'auto', bias: 0 });
  });
});

describe('loadModelSpec reads .yaml/.yml/.json and points at line:column', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gradfleet-spec-'));

  it('loads a valid YAML spec', () => {
    const file = join(dir, 'ok.yml');
    writeFileSync(file, 'input: { shape: [784] }\nlayers:\n  - { type: dense, units: 32, activation: relu }\n  - { type: dense, units: 10 }\nseed: 2\n');
    const spec = loadModelSpec(file);
    expect(spec.layers).toHaveLength(2);
    expect(spec.seed).toBe(2);
  });

  it('names file, line and column of a bad YAML field', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, ['input:', '  shape: [784]', 'layers:', '  - type: dense', '    units: 10', '  - type: relu', '  - type: dense', '    units: -3', 'seed: 1', ''].join('\n'));
    const e = (() => {
      try {
        loadModelSpec(file);
      } catch (err) {
        return err as ModelSpecError;
      }
      throw new Error('expected an error');
    })();
    expect(e).toBeInstanceOf(ModelSpecError);
    expect(e.issues[0]).toMatchObject({ line: 8, column: 12 });
    expect(e.message).toBe(`invalid model spec: ${file}:8:12: layers[2].units must be a positive integer, got -3`);
  });

  it('names the line of a shape error found after the schema (unknown share target) in JSON', () => {
    const file = join(dir, 'bad.json');
    const text = JSON.stringify({ input: { shape: [8] }, layers: [{ type: 'dense', name: 'enc', units: 4 }, { type: 'dense', share: 'enc9', transpose: true }], loss: 'mse', seed: 1 }, null, 2);
    writeFileSync(file, text);
    const lines = text.split('\n');
    const line = lines.findIndex((l) => l.includes('"enc9"')) + 1;
    expect(() => loadModelSpec(file)).toThrow(new RegExp(`bad\\.json:${line}:\\d+: layers\\[1\\]\\.share must name`));
  });

  it('reports YAML syntax errors with a position, and unknown file types', () => {
    const file = join(dir, 'syntax.yaml');
    writeFileSync(file, 'input: { shape: [784]\nlayers: []\n');
    expect(() => loadModelSpec(file)).toThrow(/syntax\.yaml:\d+:\d+: not valid YAML/);
    expect(() => loadModelSpec(join(dir, 'model.toml'))).toThrow(/unknown model spec file type '\.toml'/);
    expect(() => loadModelSpec(join(dir, 'missing.json'))).toThrow(/missing\.json: cannot read the file/);
  });
});
