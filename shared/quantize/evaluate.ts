/**
 * Scores an inference model (logits out) with onnxruntime: accuracy and mean cross-entropy on
 * a split, and latency, batch 1 (median of single-sample runs) and throughput at batch 256.
 */
import * as ort from 'onnxruntime-node';
import { gatherBatch } from '../data/batch.js';
import type { Dataset } from '../data/dataset.js';

export interface ModelScore {
  accuracy: number;
  loss: number;
  count: number;
  /** Median milliseconds of one single-sample run. */
  latencyMs: number;
  /** Samples per second at batch 256. */
  samplesPerSecond: number;
}

export async function scoreModel(bytes: Uint8Array, dataset: Dataset, indices: Uint32Array, o: { latencyRuns?: number; threads?: number } = {}): Promise<ModelScore> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: o.threads ?? 1, interOpNumThreads: 1 });
  const input = session.inputNames[0]!;
  const output = session.outputNames[0]!;
  const classes = dataset.numClasses;
  if (classes === undefined) throw new Error('quantize scores classification models (the dataset has no classes)');
  const run = (x: Float32Array, n: number) => session.run({ [input]: new ort.Tensor('float32', x, [n, ...dataset.featureShape]) });
  try {
    let correct = 0;
    let loss = 0;
    const t0 = performance.now();
    for (let at = 0; at < indices.length; at += 256) {
      const b = gatherBatch(dataset, indices.subarray(at, Math.min(indices.length, at + 256)));
      const logits = (await run(b.x, b.count))[output]!.data as Float32Array;
      for (let i = 0; i < b.count; i++) {
        const row = logits.subarray(i * classes, (i + 1) * classes);
        const label = Number(b.y[i]);
        let arg = 0;
        let max = -Infinity;
        for (let c = 0; c < classes; c++) if (row[c]! > max) [max, arg] = [row[c]!, c];
        let sum = 0;
        for (let c = 0; c < classes; c++) sum += Math.exp(row[c]! - max);
        loss += Math.log(sum) + max - row[label]!;
        if (arg === label) correct++;
      }
    }
    const samplesPerSecond = indices.length / ((performance.now() - t0) / 1000);
    const one = gatherBatch(dataset, indices.subarray(0, 1));
    const times: number[] = [];
    for (let i = 0; i < (o.latencyRuns ?? 200); i++) {
      const s = performance.now();
      await run(one.x, 1);
      times.push(performance.now() - s);
    }
    times.sort((a, b) => a - b);
    return { accuracy: correct / indices.length, loss: loss / indices.length, count: indices.length, latencyMs: times[Math.floor(times.length / 2)]!, samplesPerSecond };
  } finally {
    await session.release();
  }
}
