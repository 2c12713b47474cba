/** Device registry: a device name from the CLI or config → a Device. */
import type { Device, DeviceKind } from './device.js';
import { cpuDevice } from './cpu.js';
import { cudaDevice } from './cuda.js';

export const DEVICE_KINDS: readonly DeviceKind[] = ['cpu', 'cuda'];

export function deviceFor(kind: string, opts: { threads?: number; deviceId?: number } = {}): Device {
  switch (kind) {
    case 'cpu':
      return cpuDevice(opts.threads);
    case 'cuda':
      return cudaDevice(opts.deviceId);
    default:
      throw new Error(`unknown device '${kind}': expected one of ${DEVICE_KINDS.join(', ')}`);
  }
}
