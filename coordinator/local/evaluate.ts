/** Evaluation of one data split with the eval graph: exact sums over shards, divided once. */
import type { EvalRunner } from '../../shared/engine/runner.js';
import { gatherBatch } from '../../shared/data/batch.js';
import type { Subset } from '../../shared/data/split.js';
import type { EvalMetrics } from './events.js';
import { meanDivisor } from '../aggregate/index.js';

/**
 * Loss and accuracy of the runner's current weights on `subset`, in shards of `shard` samples
 * added in order (float64), so the result does not depend on the shard size beyond float32
 * rounding inside each shard. Null for an empty subset.
 */
export async function evaluateSubset(runner: EvalRunner, subset: Subset, shard: number): Promise<EvalMetrics | null> {
  const n = subset.indices.length;
  if (n === 0) return null;
  let lossSum = 0;
  let correct = 0;
  let hasCorrect = true;
  const parts: { count: number; normalizers: number[] }[] = [];
  for (let start = 0; start < n; start += shard) {
    const r = await runner.evaluate(gatherBatch(subset.dataset, subset.indices.subarray(start, Math.min(n, start + shard))));
    lossSum += r.lossSum;
    parts.push({ count: r.count, normalizers: r.headNormalizers });
    if (r.correct === undefined) hasCorrect = false;
    else correct += r.correct;
  }
  return { loss: lossSum / meanDivisor(parts), accuracy: hasCorrect ? correct / n : null, count: n };
}
