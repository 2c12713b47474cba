/**
 * A run's own dropout probability (job model.dropout, a search trial's) through a graph compiled
 * for another: workers draw the masks with the run's probability and scale kept values, so the
 * graph's (X·M)/(1−p_graph) is X/(1−p_run). Checked on the masks and on a real session.
 */
import { describe, it, expect } from 'vitest';
import * as ort from 'onnxruntime-node';
import { keptMaskValue, makeMasks } from '../../shared/engine/dropout-masks.js';
import { dropoutKeepProbability } from '../../shared/autodiff/rules/dropout.js';
import type { DropoutMaskSpec } from '../../shared/autodiff/compile-types.js';
import { GraphBuilder } from '../../shared/onnx/builder.js';
import { GraphProto } from '../../shared/proto/gen/onnx.js';
import { DT } from '../../shared/onnx/tensor.js';
import { encodeModel, makeModel, valueInfo } from '../../shared/onnx/model.js';

const spec: DropoutMaskSpec = { name: 'dropout_mask:d', shape: ['N', 1000], ratio: 0.2 };

describe('dropout probability of a run', () => {
  it('leaves the masks bit for bit as they were when the run keeps the graph\'s probability', () => {
    const plain = makeMasks([spec], 8, 123)[0]!.data;
    const same = makeMasks([spec], 8, 123, undefined, 0.2)[0]!.data;
    expect(Buffer.from(same.buffer).equals(Buffer.from(plain.buffer))).toBe(true);
    expect(new Set(plain)).toEqual(new Set([0, 1]));
  });

  it('drops the run\'s share of elements and scales kept ones so the graph divides them into 1/(1−p_run)', () => {
    for (const p of [0, 0.1, 0.5, 0.75]) {
      const m = makeMasks([spec], 50, 7, undefined, p)[0]!.data;
      const dropped = m.filter((v) => v === 0).length / m.length;
      expect(Math.abs(dropped - p), `p=${p}`).toBeLessThan(0.01);
      const kept = keptMaskValue(0.2, p);
      expect(new Set(m.filter((v) => v !== 0))).toEqual(new Set([kept]));
      // What the graph computes for a kept x: fround(fround(x·kept) / keep_graph) ≈ x/(1−p), within float32 rounding.
      const x = 0.3;
      const y = Math.fround(Math.fround(x * kept) / dropoutKeepProbability(0.2));
      expect(Math.abs(y - x / (1 - p)) / (x / (1 - p))).toBeLessThan(3e-7);
    }
    // The same seed gives the same masks on every call (any worker).
    expect(makeMasks([spec], 4, 99, undefined, 0.35)[0]!.data).toEqual(makeMasks([spec], 4, 99, undefined, 0.35)[0]!.data);
  });

  it('gives the run\'s dropout through a real onnxruntime session of the compiled form', async () => {
    // The mask-input form the compiler emits: Y = (X·M) / (1 − p_graph).
    const b = new GraphBuilder();
    const kept = b.op('Mul', ['X', 'dropout_mask:d'], {}, 'kept');
    b.add('Div', [kept, b.scalar(dropoutKeepProbability(0.2))], {}, ['Y']);
    const model = makeModel(GraphProto.fromPartial({ node: [...b.nodes], initializer: [...b.initializers], input: [valueInfo('X', DT.FLOAT, ['N', 1000]), valueInfo('dropout_mask:d', DT.FLOAT, ['N', 1000])], output: [valueInfo('Y', DT.FLOAT, ['N', 1000])] }));
    const session = await ort.InferenceSession.create(encodeModel(model));
    const x = new Float32Array(2000).fill(1);
    const mask = makeMasks([spec], 2, 5, undefined, 0.5)[0]!.data;
    const y = (await session.run({ X: new ort.Tensor('float32', x, [2, 1000]), 'dropout_mask:d': new ort.Tensor('float32', mask, [2, 1000]) })).Y!.data as Float32Array;
    // Kept elements are 1/(1−0.5) = 2 (to float32 rounding), dropped ones 0; the mean stays ≈ 1.
    for (const v of y) expect(v === 0 || Math.abs(v - 2) < 1e-6).toBe(true);
    const mean = y.reduce((a, v) => a + v, 0) / y.length;
    expect(Math.abs(mean - 1)).toBeLessThan(0.08);
  });
});
