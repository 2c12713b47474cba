/**
 * The job a relay serves to its own workers: the coordinator's Dispatcher and Scheduler over one
 * RelayRun, under the upstream job's id, package and dataset, so that a worker cannot tell the
 * relay from a coordinator. Registration, leases, long-polled tasks, reassignment of a lost
 * worker's task, straggler backups, parameter and data streams are the Dispatcher's, unchanged.
 *
 *   upstream task ─► RelayRun.begin ─► phase installed in the scheduler ─► workers wake
 *     ─► their nodes added over the local tree ─► last result ─► RelayRun resolves the task
 *
 * The Dispatcher installs phases only as runs complete them; a relay's phases come from upstream
 * instead, so they are installed here, with the run's own phase owner, and the waiting calls are
 * woken with the Dispatcher's tick (which also expires leases, as its timer does).
 */
import type { Logger } from '../../shared/log.js';
import type { JobMetadata } from '../../shared/cluster/job-wire.js';
import type { CoordinatorServer } from '../../shared/proto/gen/cluster.js';
import { Arena } from '../../shared/kernels/index.js';
import type { ComputeInit, ComputeTask } from '../../worker/compute/compute.js';
import { Dispatcher, type DatasetArrays, type JobEnd } from '../dispatch/dispatcher.js';
import { coordinatorHandlers } from '../dispatch/server.js';
import { tasksOf } from '../dispatch/task-grouping.js';
import { TransferMeter, type TransferCounts } from '../dispatch/transfer-meter.js';
import { WorkerRegistry } from '../dispatch/worker-registry.js';
import type { PhaseOwner } from '../dispatch/scheduler.js';
import { RelayRun, type RelayedTask } from './relay-run.js';
import { RelayScheduler } from './relay-scheduler.js';

/** Lease, heartbeat and warning periods for the relay's own workers. */
export interface DownstreamSettings {
  leaseMs: number;
  heartbeatMs: number;
  waitWarningMs: number;
}

export interface DownstreamJobOptions {
  /** The job as the relay's Worker loaded it: graphs and the dataset (shared memory). */
  init: ComputeInit;
  /** The job's metadata as the upstream sent it, served on unchanged. */
  meta: JobMetadata;
  settings: DownstreamSettings;
  log: Logger;
  now: () => number;
}

export class DownstreamJob {
  readonly dispatcher: Dispatcher;
  /** The Coordinator service over this job (dispatch/server.ts). */
  readonly handlers: CoordinatorServer;
  private readonly run: RelayRun;
  private readonly scheduler = new RelayScheduler();
  private readonly registry: WorkerRegistry;
  private readonly owner: PhaseOwner;
  private readonly tick: NodeJS.Timeout;
  private readonly transfer = new TransferMeter();
  private readonly arena = Arena.growable();

  constructor(private readonly o: DownstreamJobOptions) {
    const { init, meta, settings } = o;
    const size = (shape: readonly number[]) => shape.reduce((a, n) => a * n, 1);
    const pieceSizes = [...meta.train.params.map((p) => size(p.shape)), ...meta.train.buffers.map((b) => size(b.shape))];
    this.run = new RelayRun({ jobName: meta.name, pieceSizes, paramCount: meta.train.params.length, arena: this.arena, now: o.now });
    this.registry = new WorkerRegistry({ leaseMs: settings.leaseMs }, o.now());
    this.dispatcher = new Dispatcher({
      jobId: meta.jobId,
      arena: this.arena,
      transfer: this.transfer,
      job: { metadata: meta, trainModel: init.trainModel, evalModel: init.evalModel, ...(init.attackModel ? { attackModel: init.attackModel } : {}) },
      data: datasetArrays(init),
      runs: [this.run],
      scheduler: this.scheduler,
      registry: this.registry,
      heartbeatMs: settings.heartbeatMs,
      maxWaitMs: Math.min(10_000, Math.floor(settings.leaseMs / 2)),
      waitWarningMs: settings.waitWarningMs,
      now: o.now,
      log: o.log,
    });
    this.handlers = coordinatorHandlers(this.dispatcher, o.log);
    const run = this.run;
    this.owner = {
      id: run.id,
      taskDone: (phase, task, result) => run.taskDone(phase, task, result),
      // The relay's next phase is the upstream's next task, which is not here yet.
      completePhase: (phase, results) => {
        run.completePhase(phase, results);
        return [];
      },
    };
    this.dispatcher.start();
    // As the coordinator does: leases are checked at a tenth of their length.
    this.tick = setInterval(() => this.dispatcher.tick(), Math.max(50, Math.min(500, Math.floor(settings.leaseMs / 10))));
  }

  get jobId(): string {
    return this.dispatcher.jobId;
  }

  /** The relay's workers registered now. */
  get workers(): number {
    return this.registry.size;
  }

  /** Tensor bytes from and to the relay's workers so far. */
  get transferred(): TransferCounts {
    return this.transfer.snapshot();
  }

  /**
   * Has the relay's workers compute an upstream task: resolves with its leaves and, for training,
   * the node's value (the caller releases it with release()).
   */
  compute(task: ComputeTask): Promise<RelayedTask> {
    const { phase, result } = this.run.begin(task);
    const tasks = tasksOf(phase, this.registry.size);
    this.o.log.debug({ phase: phase.name, leaves: phase.leaves.length, tasks: tasks.length, workers: this.registry.size }, 'upstream task handed to this relay\'s workers');
    this.scheduler.startPhase(this.owner, tasks, this.o.now());
    // Wakes long-polled NextTask calls and GetParams calls held for this version.
    this.dispatcher.tick();
    return result;
  }

  /** A node's value handed back once it has been copied out. */
  release(root: NonNullable<RelayedTask['root']>): void {
    this.arena.release(root);
  }

  /**
   * The relay's Worker closed the compute (it stops, or the upstream job changed): no more
   * upstream tasks come, and the one in hand, if any, is dropped. The job stays served until end().
   */
  close(reason: string): void {
    this.run.end(reason);
  }

  /**
   * Ends the job for the relay's workers. A finished upstream job (`end.ok`) tells them to stop
   * and waits up to `leaveWaitMs` for them to leave; otherwise (`interrupted`) they are not sent
   * away and keep trying to reach the relay, as a coordinator's workers do while it restarts.
   */
  async end(end: JobEnd, leaveWaitMs: number): Promise<void> {
    this.run.end(`the relay stopped serving job '${this.run.name}': ${end.reason}`);
    this.dispatcher.finish(end);
    if (!end.interrupted) {
      const deadline = this.o.now() + leaveWaitMs;
      while (this.registry.size > 0 && this.o.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      if (this.registry.size > 0) this.o.log.warn({ workers: this.registry.list().map((w) => w.id), waitedMs: leaveWaitMs }, "the relay's workers did not leave in time; shutting down without them");
    }
    clearInterval(this.tick);
  }
}

/** The dataset's shared arrays as the Dispatcher streams them (GetData). */
function datasetArrays(init: ComputeInit): DatasetArrays {
  const d = init.dataset;
  return { features: new Float32Array(d.features), labels: d.labelType === 'int32' ? new Int32Array(d.labels) : new Float32Array(d.labels) };
}
