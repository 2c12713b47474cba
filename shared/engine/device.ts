/** The contract of an execution device: one small interface, a sibling file per backend (cpu, cuda). */
import type { InferenceSession } from 'onnxruntime-node';

export type DeviceKind = 'cpu' | 'cuda';

export interface Device {
  readonly kind: DeviceKind;
  /** Session options for onnxruntime-node (execution providers, threads). */
  sessionOptions(): InferenceSession.SessionOptions;
  /** Human-readable description for logs and benchmark reports. */
  describe(): string;
}
