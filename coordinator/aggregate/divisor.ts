/**
 * What a step's (or an evaluation's) summed loss and gradients divide by, so that the result is
 * PyTorch's mean whatever the micro-batch split. The training graph returns sums and, per head,
 * the normalizer PyTorch's mean would use (sample count for cross-entropy, element count for
 * mse/bce, Σ w_y for class-weighted cross-entropy); adding them over micro-batches gives the
 * whole batch's normalizer exactly.
 *
 * With several heads the summed gradient mixes heads whose normalizers differ, so no single
 * divisor gives each head its own mean: there the divisor is the sample count (a per-sample mean
 * of the weighted head sums), as documented in the README.
 */
export interface NormalizedPart {
  count: number;
  /** Per-head normalizers of this part (undefined from a graph without them). */
  normalizers?: readonly number[];
}

export function meanDivisor(parts: readonly NormalizedPart[]): number {
  const samples = parts.reduce((a, p) => a + p.count, 0);
  const single = parts.every((p) => p.normalizers !== undefined && p.normalizers.length === 1);
  if (!single || parts.length === 0) return samples;
  return parts.reduce((a, p) => a + p.normalizers![0]!, 0);
}

/** Per-head means: each head's summed loss over its own summed normalizer (sample count without one). */
export function headMeans(parts: readonly (NormalizedPart & { headLosses: readonly number[] })[]): number[] {
  const heads = parts[0]?.headLosses.length ?? 0;
  return Array.from({ length: heads }, (_, h) => {
    let loss = 0;
    let norm = 0;
    for (const p of parts) {
      loss += p.headLosses[h]!;
      norm += p.normalizers?.[h] ?? p.count;
    }
    return loss / norm;
  });
}
