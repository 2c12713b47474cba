/**
 * What the worker's loop needs of whatever computes its tasks. The real one is the compute thread
 * (compute-thread.ts: onnxruntime sessions off the main event loop); the bench's simulated
 * workers (bench/sim/) answer with precomputed gradients to load a coordinator with many workers
 * without the arithmetic; a relay (coordinator/relay/) hands each task on to its own workers.
 */
import type { InitMessage, TaskMessage } from './messages.js';
import type { ThreadResult } from './compute-thread.js';
import type { JobMetadata } from '../../shared/cluster/job-wire.js';

export type ComputeInit = Omit<InitMessage, 'type'>;
export type ComputeTask = Omit<TaskMessage, 'type' | 'id'>;

export interface Compute {
  /** The device tasks really run on (CPU after a CUDA fallback). */
  readonly device: string;
  /** Computes a task; resolves with its leaves' figures (and, for training, the node's vector). */
  run(task: ComputeTask): Promise<ThreadResult>;
  /** Hands a result vector back for reuse (its upload is done). */
  recycle(buffer: ArrayBuffer): void;
  close(): Promise<void>;
}

export interface ComputeProvider {
  /** Whether the job's dataset must be downloaded for it (the simulated one needs none). */
  readonly needsData: boolean;
  /**
   * Opens the compute for a job. `job` is the job's metadata as the coordinator sent it: a relay
   * (coordinator/relay/) serves it on to its own workers under the same job id.
   */
  start(init: ComputeInit, onWarning: (message: string) => void, job: JobMetadata): Promise<Compute>;
}
