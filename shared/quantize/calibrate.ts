/**
 * Calibration: the range of every activation that int8 quantization scales, observed by running
 * the float model on training samples (the model with those tensors added as outputs).
 */
import * as ort from 'onnxruntime-node';
import type { ModelProto } from '../proto/gen/onnx.js';
import { decodeModel, encodeModel, valueInfo } from '../onnx/model.js';
import { DT } from '../onnx/tensor.js';
import { gatherBatch } from '../data/batch.js';
import type { Dataset } from '../data/dataset.js';
import { quantizableNodes } from './quantizable.js';
import type { ActivationRanges } from './rewrite.js';

export async function calibrate(model: ModelProto, dataset: Dataset, indices: Uint32Array, batch = 256): Promise<ActivationRanges> {
  const names = [...new Set(quantizableNodes(model.graph!).map((t) => t.activation))];
  const probe = decodeModel(encodeModel(model));
  const outputs = new Set(probe.graph!.output.map((o) => o.name));
  for (const n of names) if (!outputs.has(n)) probe.graph!.output.push(valueInfo(n, DT.FLOAT, undefined));
  const session = await ort.InferenceSession.create(encodeModel(probe));
  const input = session.inputNames[0]!;
  const ranges = new Map(names.map((n) => [n, { min: Infinity, max: -Infinity }]));
  try {
    for (let at = 0; at < indices.length; at += batch) {
      const b = gatherBatch(dataset, indices.subarray(at, Math.min(indices.length, at + batch)));
      const out = await session.run({ [input]: new ort.Tensor('float32', b.x, [b.count, ...dataset.featureShape]) }, names);
      for (const n of names) {
        const r = ranges.get(n)!;
        for (const v of out[n]!.data as Float32Array) {
          if (v < r.min) r.min = v;
          if (v > r.max) r.max = v;
        }
      }
    }
  } finally {
    await session.release();
  }
  return ranges;
}
