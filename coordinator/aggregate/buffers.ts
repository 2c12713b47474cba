/**
 * A step's buffers (batch-norm running statistics): each leaf carries count_j · state_j, the
 * reduction tree adds them with the gradient, and the step's value is that sum over the step's
 * sample count, the count-weighted mean of the micro-batches' updated statistics.
 */

/** buffer ← (Σ_j count_j · state_j) / Σ_j count_j, in place. */
export function averageBuffers(buffers: Float32Array[], weightedSums: readonly Float32Array[], total: number): void {
  buffers.forEach((buf, b) => {
    const s = weightedSums[b]!;
    for (let i = 0; i < buf.length; i++) buf[i] = s[i]! / total;
  });
}
