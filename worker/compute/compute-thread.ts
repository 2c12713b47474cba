/**
 * The main thread's handle on the compute thread (thread.ts): start it with the job, hand it
 * tasks, get their results back as promises. Tasks run one at a time in the order given; the
 * caller decides how far ahead to queue.
 */
import { Worker } from 'node:worker_threads';
import type { LeafStats } from '../../shared/engine/leaf.js';
import type { FromThread, InitMessage, TaskMessage, ToThread } from './messages.js';
import type { Compute, ComputeProvider } from './compute.js';

export interface ThreadResult {
  leaves: LeafStats[];
  /** train: the node's vector (padded layout); hand it back with recycle() once uploaded. */
  vector?: ArrayBuffer;
  computeMs: number;
}

/** The compute thread failed (an onnxruntime error, a bad task) or ended. */
export class ComputeThreadError extends Error {
  override name = 'ComputeThreadError';
}

/** The thread's entry, beside this file (a bundled build, scripts/gpu/cluster, bundles the thread under the same name beside the worker). */
function entry(): URL {
  return new URL('./thread-entry.mjs', import.meta.url);
}

export class ComputeThread implements Compute {
  private readonly pending = new Map<number, { resolve: (r: ThreadResult) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private ended: Error | undefined;

  private constructor(
    private readonly worker: Worker,
    /** The device the sessions really run on (CPU after a CUDA fallback). */
    readonly device: string,
  ) {}

  /** Starts the thread and loads the job into it (sessions open, arena sized). */
  static async start(init: Omit<InitMessage, 'type'>, onWarning: (message: string) => void): Promise<ComputeThread> {
    const worker = new Worker(entry());
    let thread: ComputeThread | undefined;
    const ready = new Promise<string>((resolve, reject) => {
      worker.on('message', (m: FromThread) => {
        if (m.type === 'ready') resolve(m.device);
        else if (m.type === 'warning') onWarning(m.message);
        else if (m.type === 'failed' && m.id === null) {
          const err = new ComputeThreadError(`compute thread: ${m.message}`);
          reject(err);
          thread?.fail(err);
        } else thread?.settle(m);
      });
      const end = (err: Error) => {
        reject(err);
        thread?.fail(err);
      };
      worker.on('error', (e) => end(new ComputeThreadError(`compute thread crashed: ${e.message}`)));
      worker.on('exit', (code) => end(new ComputeThreadError(`compute thread exited (code ${code})`)));
    });
    worker.postMessage({ type: 'init', ...init } satisfies ToThread);
    try {
      thread = new ComputeThread(worker, await ready);
    } catch (e) {
      await worker.terminate();
      throw e;
    }
    return thread;
  }

  /** Computes a task; resolves with its leaves' figures (and, for training, the node's vector). */
  run(task: Omit<TaskMessage, 'type' | 'id'>): Promise<ThreadResult> {
    if (this.ended) return Promise.reject(this.ended);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'task', id, ...task } satisfies ToThread);
    });
  }

  /** Hands a result vector back for reuse (its upload is done). */
  recycle(buffer: ArrayBuffer): void {
    if (!this.ended) this.worker.postMessage({ type: 'recycle', buffer } satisfies ToThread, [buffer]);
  }

  /** Releases the sessions and ends the thread. */
  async close(): Promise<void> {
    if (this.ended) return;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage({ type: 'close' } satisfies ToThread);
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, 5_000).unref());
    await Promise.race([exited, timeout]);
    this.fail(new ComputeThreadError('compute thread closed'));
    await this.worker.terminate();
  }

  private settle(m: FromThread): void {
    if (m.type === 'result') {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      p?.resolve({ leaves: m.leaves, ...(m.vector ? { vector: m.vector } : {}), computeMs: m.computeMs });
    } else if (m.type === 'failed' && m.id !== null) {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      p?.reject(new ComputeThreadError(m.message));
    }
  }

  private fail(err: Error): void {
    this.ended ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}

/** The worker's default: tasks computed by onnxruntime in a compute thread. */
export const COMPUTE_THREAD: ComputeProvider = { needsData: true, start: (init, onWarning) => ComputeThread.start(init, onWarning) };
