/**
 * A compute for simulated workers (bench/sim/sim-workers.ts): every training task answers at once
 * with the same precomputed gradient vector of the job's layout, and plausible per-leaf figures,
 * so that one process can stand in for dozens of workers and load a coordinator with the real
 * protocol (registration, tasks, parameter downloads, result uploads) without the arithmetic.
 * Nothing here is used by training; the coordinator checks and sums these vectors like any.
 */
import { layoutOffsets } from '../../shared/kernels/index.js';
import type { LeafStats } from '../../shared/engine/leaf.js';
import { Rng } from '../../shared/random.js';
import type { ThreadResult } from '../../worker/compute/compute-thread.js';
import type { Compute, ComputeInit, ComputeProvider, ComputeTask } from '../../worker/compute/compute.js';

class PrecomputedGradients implements Compute {
  readonly device = 'simulated';
  private readonly spare: ArrayBuffer[] = [];

  constructor(private readonly gradient: Float32Array) {}

  async run(task: ComputeTask): Promise<ThreadResult> {
    const leaves: LeafStats[] = task.leaves.map((l) => ({ count: l.indices.length, loss: 2.3 * l.indices.length, headLosses: [2.3 * l.indices.length], headNormalizers: [l.indices.length], correct: 0 }));
    if (task.kind === 'eval') return { leaves, computeMs: 0 };
    const vector = this.spare.pop() ?? new ArrayBuffer(this.gradient.byteLength);
    new Float32Array(vector).set(this.gradient);
    return { leaves, vector, computeMs: 0 };
  }

  recycle(buffer: ArrayBuffer): void {
    this.spare.push(buffer);
  }

  async close(): Promise<void> {}
}

/** Small random gradients (|g| < 1e-3) in the job's padded layout, the same for every task. */
export const PRECOMPUTED: ComputeProvider = {
  needsData: false,
  async start(init: ComputeInit): Promise<Compute> {
    const sizes = [...init.train.params.map((p) => p.shape.reduce((a, n) => a * n, 1)), ...init.train.buffers.map((b) => b.shape.reduce((a, n) => a * n, 1))];
    const offsets = layoutOffsets(sizes);
    const gradient = new Float32Array(offsets.at(-1)!);
    const rng = Rng.seeded(1);
    sizes.forEach((n, i) => gradient.set(rng.floats(n, -1e-3, 1e-3), offsets[i]!));
    return new PrecomputedGradients(gradient);
  },
};
