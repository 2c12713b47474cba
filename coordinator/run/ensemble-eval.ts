/**
 * Scores the exported ensemble model on a split, on the coordinator, with onnxruntime-node (CPU,
 * one thread). Workers run the job's compiled eval graph over one run's parameters and report
 * sums; the ensemble is a different graph over K parameter sets, so the coordinator, which holds
 * the data and the finished members anyway, evaluates it itself, once, at the end of the job.
 *
 * Exact sums in shard order (float64), divided once, as the workers' evaluations are:
 *   accuracy = Σ [class = label] / positions
 *   nll      = Σ −ln p̄[label] / positions      (average mode: p̄ is the mean member probability)
 * Positions are samples × the class output's trailing positions (1 for [N, C] logits).
 */
import * as ort from 'onnxruntime-node';
import type { Dataset } from '../../shared/data/dataset.js';
import { gatherBatch } from '../../shared/data/batch.js';
import { decodeModel, describeValueInfo } from '../../shared/onnx/model.js';
import { DT } from '../../shared/onnx/tensor.js';
import { openSession } from '../../shared/engine/open-session.js';
import { cpuDevice } from '../../shared/engine/cpu.js';
import { EnsembleError } from './ensemble-errors.js';

export interface EnsembleEval {
  /** Samples scored. */
  count: number;
  accuracy: number;
  /** Mean negative log-likelihood of the true class under the averaged probabilities (null in vote mode). */
  nll: number | null;
}

export interface ScoredOutputs {
  /** Output holding the predicted class (int64, the class axis removed). */
  class: string;
  /** Output holding class probabilities [N, C, …] (average mode). */
  probabilities?: string;
}

/**
 * Evaluates `modelBytes` on `indices` of `dataset` in shards of `shard` samples. The dataset must
 * hold class labels (the model's first data input takes the features).
 */
export async function evaluateEnsemble(modelBytes: Uint8Array, dataset: Dataset, indices: Uint32Array, outputs: ScoredOutputs, shard: number): Promise<EnsembleEval> {
  if (dataset.numClasses === undefined) throw new EnsembleError(`dataset '${dataset.name}' holds regression targets; the ensemble is scored on class labels`);
  const input = decodeModel(modelBytes).graph!.input[0];
  if (!input) throw new EnsembleError('the ensemble model has no data input');
  const { elemType, shape } = describeValueInfo(input);
  const { session } = await openSession(modelBytes, cpuDevice(1));
  let hits = 0;
  let nll = 0;
  let positions = 0;
  try {
    for (let start = 0; start < indices.length; start += shard) {
      const batch = gatherBatch(dataset, indices.subarray(start, Math.min(indices.length, start + shard)));
      const dims = (shape ?? [batch.count, ...dataset.featureShape]).map((d, i) => (i === 0 || typeof d !== 'number' ? batch.count : d));
      const x = elemType === DT.INT64 ? new ort.Tensor('int64', BigInt64Array.from(batch.x, (v) => BigInt(Math.round(v))), dims) : new ort.Tensor('float32', batch.x, dims);
      const fetched = await session.run({ [input.name]: x }, outputs.probabilities ? [outputs.class, outputs.probabilities] : [outputs.class]);
      const cls = fetched[outputs.class]!.data as BigInt64Array;
      const labels = batch.y as BigInt64Array;
      if (cls.length !== labels.length) throw new EnsembleError(`output '${outputs.class}' holds ${cls.length} classes for ${batch.count} samples with ${labels.length} labels`);
      for (let i = 0; i < cls.length; i++) if (cls[i] === labels[i]) hits++;
      if (outputs.probabilities) nll += negativeLogLikelihood(fetched[outputs.probabilities]!, labels);
      positions += cls.length;
    }
  } finally {
    await session.release();
  }
  return { count: indices.length, accuracy: hits / positions, nll: outputs.probabilities ? nll / positions : null };
}

/** Σ −ln p[n, label, s] over a probabilities tensor [N, C, S…] and labels [N, S…]. */
function negativeLogLikelihood(p: ort.Tensor, labels: BigInt64Array): number {
  const data = p.data as Float32Array;
  const [n, classes] = [p.dims[0]!, p.dims[1]!];
  const trailing = data.length / (n * classes);
  let sum = 0;
  for (let i = 0; i < n; i++)
    for (let s = 0; s < trailing; s++) {
      const label = Number(labels[i * trailing + s]);
      sum -= Math.log(data[(i * classes + label) * trailing + s]!);
    }
  return sum;
}
