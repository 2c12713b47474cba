/**
 * The CUDA execution device. onnxruntime-node has the CUDA provider only after its install script
 * ran with ONNXRUNTIME_NODE_INSTALL=cuda12 (README, "GPU workers"); openSession() falls back to
 * the CPU, loudly, when the provider cannot be loaded.
 */
import type { Device } from './device.js';

export function cudaDevice(deviceId = 0): Device {
  return {
    kind: 'cuda',
    // CPU stays listed last so that shape-only nodes (Shape, Gather on shapes) may run there.
    sessionOptions: () => ({ executionProviders: [{ name: 'cuda', deviceId }, 'cpu'], graphOptimizationLevel: 'all' }),
    describe: () => `cuda:${deviceId}`,
  };
}
