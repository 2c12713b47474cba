/** The CPU execution device (always available: onnxruntime-node bundles it). */
import type { Device } from './device.js';

export function cpuDevice(threads = 1): Device {
  return {
    kind: 'cpu',
    // Intra-op threads change how some kernels split reductions; every worker of a job uses the
    // same count so that results stay bit-identical across worker counts.
    sessionOptions: () => ({ executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' }),
    describe: () => `cpu (${threads} thread${threads === 1 ? '' : 's'})`,
  };
}
