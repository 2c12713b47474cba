/**
 * The relay's compute: what the real Worker class (worker/loop.ts) runs its upstream tasks on.
 * Where a worker's compute thread runs onnxruntime, this one hands each task to the relay's own
 * workers (downstream-job.ts) and answers with their leaves and their sum, copied into an
 * ArrayBuffer in the padded layout the Worker uploads. Everything else of being one worker of
 * the upstream coordinator (registration, task prefetch, one parameter download per version,
 * pre-opened uploads, heartbeats that renew the relay's lease while its workers compute,
 * reconnection) is the Worker class's.
 */
import type { Logger } from '../../shared/log.js';
import type { JobMetadata } from '../../shared/cluster/job-wire.js';
import type { ThreadResult } from '../../worker/compute/compute-thread.js';
import type { Compute, ComputeInit, ComputeProvider, ComputeTask } from '../../worker/compute/compute.js';
import { DownstreamJob, type DownstreamSettings } from './downstream-job.js';
import { RelayRefusedError } from './errors.js';

class RelayCompute implements Compute {
  readonly device = 'relay';
  /** Result buffers back from their upload, for the next results. */
  private readonly spare: ArrayBuffer[] = [];

  constructor(
    private readonly job: DownstreamJob,
    private readonly onRefused: (err: RelayRefusedError) => void,
  ) {}

  async run(task: ComputeTask): Promise<ThreadResult> {
    let done;
    try {
      done = await this.job.compute(task);
    } catch (e) {
      if (e instanceof RelayRefusedError) this.onRefused(e);
      throw e;
    }
    if (!done.root) return { leaves: done.leaves, computeMs: done.computeMs };
    const bytes = done.root.whole.byteLength;
    const i = this.spare.findIndex((b) => b.byteLength === bytes);
    const vector = i >= 0 ? this.spare.splice(i, 1)[0]! : new ArrayBuffer(bytes);
    new Float32Array(vector).set(done.root.whole);
    this.job.release(done.root);
    return { leaves: done.leaves, vector, computeMs: done.computeMs };
  }

  recycle(buffer: ArrayBuffer): void {
    this.spare.push(buffer);
  }

  async close(): Promise<void> {
    this.job.close('the relay closed its upstream job');
  }
}

export interface RelayProviderOptions {
  settings: DownstreamSettings;
  log: Logger;
  now: () => number;
  /** A job the relay now serves to its workers (the previous one, if any, is over). */
  onJob: (job: DownstreamJob) => void;
  /** The relay cannot serve this job (RelayRefusedError says why); the Worker fails with it next. */
  onRefused: (err: RelayRefusedError) => void;
}

/** The ComputeProvider a relay's Worker runs with: each job it loads becomes a DownstreamJob. */
export class RelayProvider implements ComputeProvider {
  /** The relay serves the dataset to its workers (or, with `workers.data: local`, they read it, as it does). */
  readonly needsData = true;

  constructor(private readonly o: RelayProviderOptions) {}

  async start(init: ComputeInit, _onWarning: (message: string) => void, meta: JobMetadata): Promise<Compute> {
    const job = new DownstreamJob({ init, meta, settings: this.o.settings, log: this.o.log, now: this.o.now });
    this.o.onJob(job);
    return new RelayCompute(job, this.o.onRefused);
  }
}
