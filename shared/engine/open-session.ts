/**
 * Creates an onnxruntime session on a device. When the CUDA provider cannot be loaded, the
 * session is created on the CPU instead and the fallback is reported through `onFallback`
 * (workers log it at warn level and report device 'cpu' to the coordinator).
 */
import * as ort from 'onnxruntime-node';
import type { Device } from './device.js';
import { cpuDevice } from './cpu.js';

export interface OpenedSession {
  session: ort.InferenceSession;
  /** The device the session really runs on. */
  device: Device;
}

export async function openSession(model: Uint8Array, device: Device, onFallback: (reason: string) => void = () => {}): Promise<OpenedSession> {
  try {
    return { session: await ort.InferenceSession.create(model, device.sessionOptions()), device };
  } catch (e) {
    if (device.kind === 'cpu') throw e;
    const reason = `${device.describe()} unavailable (${(e as Error).message.split('\n')[0]}); FALLING BACK TO CPU`;
    onFallback(reason);
    const cpu = cpuDevice();
    return { session: await ort.InferenceSession.create(model, cpu.sessionOptions()), device: cpu };
  }
}
