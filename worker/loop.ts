/**
 * The worker: register → GetJob → GetData (cached) → a compute thread with one training and one
 * eval session → loop on tasks. A training task is a node of the step's reduction tree: the
 * thread computes its micro-batches and adds them up, and one vector goes back.
 *
 * The main thread never computes: while the thread runs a task, it asks for the next task and
 * downloads that task's parameters (prefetch), opens the call the result will be uploaded on,
 * asks for the next version of the run's parameters (the coordinator holds that call and streams
 * them the moment the step's update is done), and answers heartbeats. The result's reply carries
 * the next task when none is prefetched: no round trip waits between two steps but the
 * transfers themselves.
 * Parameters are fetched only when a task needs another version than the ones held.
 * Results go back as a header plus chunked float32 bytes (or the job's fp16/int8 codec).
 *
 *   registered ──► training ──(stop from coordinator | SIGTERM: finish current, Leave)──► gone
 *        ▲             │
 *        └─ NOT_FOUND ─┘  (coordinator restarted or lease lost: register again)
 *
 * Every call has a deadline. A coordinator that cannot be reached (restarting, gone) is called
 * again after a bounded exponential backoff (worker/reconnect.ts), each retry logged; once no call
 * has reached it for `unreachableMs`, the worker ends with exit code 1 and a line that says so.
 * A coordinator restarted on its run directory keeps its job id, so a reconnecting worker only
 * registers again and keeps the job, graphs and data it downloaded.
 */
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { connectivityState as ConnectivityState, status as Status, type ServiceError } from '@grpc/grpc-js';
import type { Logger } from '../shared/log.js';
import { PROCESS_ENV } from '../shared/node-flags.js';
import type { DeviceKind } from '../shared/engine/device.js';
import { layoutViews } from '../shared/kernels/index.js';
import { TaskKind, type LeafResult, type ResultHeader, type SubmitReply, type TaskReply } from '../shared/proto/gen/cluster.js';
import { CoordinatorConnection, DEFAULT_TIMEOUTS, type ConnectionSecurity, isUnreachable, statusName, type ClientTimeouts, type PendingSubmit } from './client.js';
import { loadJobContext, type JobContext } from './job-context.js';
import type { ThreadResult } from './compute/compute-thread.js';
import type { ComputeProvider } from './compute/compute.js';
import { WeightsStore, type WeightsSlot } from './weights.js';
import { describeTask, taskRef, workTaskFrom, type WorkTask } from './task.js';
import { probeDevice } from './device-probe.js';
import type { WorkerObserver } from './observe/prometheus.js';
import { DEFAULT_RECONNECT, retryDelay, shouldGiveUp, type ReconnectPolicy } from './reconnect.js';

export const WORKER_VERSION = '0.1.0';

/** The malloc settings this process started with (shared/node-flags.ts), for the registration log line. */
function tuningEnv(): Record<string, string | undefined> {
  return Object.fromEntries(Object.keys(PROCESS_ENV).map((k) => [k, process.env[k]]));
}

export interface WorkerOptions {
  coordinator: string;
  device: DeviceKind;
  /** onnxruntime intra-op threads; the job's setting when undefined. */
  threads?: number;
  name?: string;
  log: Logger;
  /** How long a NextTask call may be held by the coordinator. */
  waitMs?: number;
  /** Give up (exit 1) when no call has reached the coordinator for this long. */
  unreachableMs?: number;
  /** SIGTERM: how long the task in hand may take to finish before the worker leaves anyway. */
  drainMs?: number;
  timeouts?: ClientTimeouts;
  /** With `workers.data: local`: where the job's relative data paths resolve on this machine (default: the coordinator's folder). */
  dataRoot?: string;
  /** With `workers.data: local`: more folders the data may lie in besides dataRoot (--allow-dir). */
  allowDirs?: readonly string[];
  /** What computes tasks (default: the compute thread; the bench's simulated workers bring their own). */
  compute?: ComputeProvider;
  /** Told about tasks, downloads and unreachable calls (the worker's /metrics). */
  observer?: WorkerObserver;
  /** TLS material and join token for the coordinator (plaintext, no token when absent). */
  security?: ConnectionSecurity;
}

/** A task whose parameters are here (its slot pinned until the task is done: done()). */
interface Prepared {
  task: WorkTask;
  weights: WeightsSlot;
  done(): void;
}

/** How long a GetParams for the next version may be held (the step's other results may still be on their way). */
const PARAMS_AHEAD_WAIT_MS = 10_000;

/** The coordinator no longer knows this worker (restart, expired lease): register again. */
class SessionLost extends Error {
  override name = 'SessionLost';
}

/** The worker cannot go on (coordinator gone too long, unusable job). */
export class WorkerFatalError extends Error {
  override name = 'WorkerFatalError';
}

const valuesOf = (tensors: readonly Float32Array[]) => tensors.reduce((a, t) => a + t.length, 0);

const sleep = (ms: number, abort?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (abort?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      abort?.removeEventListener('abort', done);
      resolve();
    }
    abort?.addEventListener('abort', done, { once: true });
  });

export class Worker {
  private readonly log: Logger;
  private readonly conn: CoordinatorConnection;
  private readonly waitMs: number;
  private readonly reconnect: ReconnectPolicy;
  private stopReason: string | undefined;
  /** Why the worker gave up (the coordinator unreachable too long); set once. */
  private fatal: WorkerFatalError | undefined;
  private giveUp!: (err: WorkerFatalError) => void;
  /** Rejects when the worker gives up, ending run() even while a call still waits for the coordinator. */
  private readonly gaveUp = new Promise<never>((_, reject) => (this.giveUp = reject));
  /** When a call last reached the coordinator (any answer, errors included, counts). */
  private lastContact = Date.now();
  /** The channel was connected once; since when it is not (undefined while connected). */
  private connected = false;
  private disconnectedAt: number | undefined;
  private lastFailure = '';
  private watchdog: NodeJS.Timeout | undefined;
  /** Cancels long polls and sleeps when the worker is asked to stop. */
  private readonly stopping = new AbortController();
  private workerId = '';
  private ctx: JobContext | undefined;
  private device: DeviceKind = 'cpu';
  /** Tasks assigned to this worker whose results are not answered yet (sent with every NextTask). */
  private readonly holding = new Map<string, WorkTask>();
  /** Downloaded parameters per run and version. */
  private weights: WeightsStore | undefined;
  /** Downloads in flight, by `${runId}:${version}`. */
  private readonly fetching = new Map<string, Promise<WeightsSlot | undefined>>();
  /** The SubmitResult call opened for the result being computed (openSubmit). */
  private upload: PendingSubmit | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private heartbeatInFlight = false;
  private heartbeatMs = 2000;
  private tasksDone = 0;

  constructor(private readonly o: WorkerOptions) {
    this.log = o.log;
    this.conn = new CoordinatorConnection(o.coordinator, o.timeouts ?? DEFAULT_TIMEOUTS, o.security);
    this.waitMs = o.waitMs ?? 5_000;
    this.reconnect = { ...DEFAULT_RECONNECT, giveUpAfterMs: o.unreachableMs ?? 120_000 };
    this.gaveUp.catch(() => {});
  }

  /** Why the worker gave up, when it did (for the command line's last words). */
  get failure(): string | undefined {
    return this.fatal?.message;
  }

  /** Why the worker stopped (the first reason given: a signal's name, or the coordinator's words). */
  get stoppedBecause(): string | undefined {
    return this.stopReason;
  }

  /** Asks the worker to finish the task in hand, leave, and return (SIGTERM). */
  stop(reason: string): void {
    if (this.stopReason) return;
    this.stopReason = reason;
    this.log.info({ reason }, 'stopping: finishing the task in hand, then leaving');
    this.stopping.abort();
  }

  /** Runs until the coordinator says stop, the worker is stopped, or it cannot go on. Returns the exit code. */
  async run(): Promise<number> {
    this.lastContact = Date.now();
    this.startWatchdog();
    this.conn.watchConnectivity((state) => this.channelState(state));
    try {
      this.device = await probeDevice(this.o.device, (reason) => this.log.warn({ requested: this.o.device }, reason));
      await Promise.race([this.join(), this.gaveUp]);
      this.startHeartbeats();
      await Promise.race([this.work(), this.drainDeadline(), this.gaveUp]);
      return 0;
    } catch (e) {
      const err = this.fatal ?? e;
      if (this.stopReason && !this.fatal && isUnreachable(err)) return 0;
      this.log.error({ err }, err instanceof WorkerFatalError ? err.message : 'worker failed');
      return 1;
    } finally {
      if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
      if (this.watchdog) clearInterval(this.watchdog);
      // A coordinator that is gone is not waited for.
      if (!this.fatal) await this.leave();
      // After giving up, a computation may still be running in a session: the process ends instead.
      if (!this.fatal) await this.ctx?.release().catch(() => {});
      this.upload?.cancel();
      this.conn.close();
      this.log.info({ tasks: this.tasksDone, reason: this.stopReason }, 'worker exited');
    }
  }

  /**
   * Resolves `drainMs` after the worker was asked to stop: a task that takes longer is not
   * waited for; leaving hands it back to the coordinator.
   */
  private drainDeadline(): Promise<void> {
    const drainMs = this.o.drainMs ?? 30_000;
    return new Promise((resolve) => {
      const arm = () => {
        const t = setTimeout(() => {
          this.log.warn({ drainMs }, 'the task in hand did not finish in time: leaving without it (the coordinator hands it to another worker)');
          resolve();
        }, drainMs);
        t.unref();
      };
      if (this.stopping.signal.aborted) arm();
      else this.stopping.signal.addEventListener('abort', arm, { once: true });
    });
  }

  /** Registers (again) and loads the job when it is new to this worker. */
  private async join(): Promise<void> {
    const reg = await this.call('Register', () =>
      this.conn.register({ name: this.o.name ?? `${hostname()}:${process.pid}`, device: this.device, deviceDetail: this.device, threads: this.o.threads ?? 0, version: WORKER_VERSION }),
    );
    this.workerId = reg.workerId;
    this.heartbeatMs = reg.heartbeatMs || this.heartbeatMs;
    this.upload?.cancel();
    this.upload = undefined;
    this.holding.clear();
    // Parameters are fetched again after any re-registration: a restarted coordinator may hold
    // other values under the same version numbers.
    this.weights?.clear();
    this.fetching.clear();
    this.log.info({ workerId: reg.workerId, jobId: reg.jobId, leaseMs: reg.leaseMs, nodeFlags: process.execArgv, processEnv: tuningEnv() }, 'registered');
    if (this.ctx?.jobId === reg.jobId) return;
    await this.ctx?.release();
    this.ctx = undefined;
    this.ctx = await this.call('GetJob', () => loadJobContext(this.conn, reg.workerId, reg.jobId, { device: this.device, threads: this.o.threads, log: this.log, dataRoot: this.o.dataRoot, allowDirs: this.o.allowDirs, compute: this.o.compute }));
    this.weights = new WeightsStore(this.ctx.pieceSizes);
  }

  private async work(): Promise<void> {
    let current: Prepared | undefined;
    let next: Prepared | undefined;
    while (!this.stopReason) {
      try {
        if (!current) {
          current = next ?? (await this.waitForTask());
          next = undefined;
          if (!current) continue;
        }
        const task = current.task;
        const computing = this.ctx!.thread.run({ kind: task.kind, node: task.node, k: task.k, leaves: task.leaves, split: task.split, ...(task.dropout !== undefined ? { dropout: task.dropout } : {}), ...(task.augmentSeed !== undefined ? { augmentSeed: task.augmentSeed } : {}), weights: { runId: task.runId, version: task.version, buffer: current.weights.buffer } });
        // Awaited below; this keeps an early rejection from counting as unhandled meanwhile.
        computing.catch(() => {});
        // The result's upload call is opened now, so that its setup is done when the result is,
        // and the next step's parameters are asked for: the coordinator holds the call and
        // streams them as soon as the step's update is done.
        this.upload ??= this.conn.openSubmit();
        if (task.kind === 'train') this.weightsFor(task.runId, task.version + 1, PARAMS_AHEAD_WAIT_MS).catch((e: unknown) => this.log.debug({ err: e }, 'parameters ahead not fetched; the task will ask again'));
        // While the thread computes: the next task, its parameters downloaded.
        if (!next) next = await this.prefetch();
        let result: ThreadResult;
        try {
          result = await computing;
        } finally {
          current.done();
        }
        const reply = await this.submit(task, result, next === undefined);
        current = next ?? (reply?.next ? await this.accept(reply.next) : undefined);
        next = undefined;
      } catch (e) {
        current?.done();
        next?.done();
        current = next = undefined;
        if (e instanceof SessionLost) {
          this.log.warn({ workerId: this.workerId, reason: e.message }, 'the coordinator no longer knows this worker: registering again');
          await this.join();
          continue;
        }
        throw e;
      }
    }
    this.log.info({ reason: this.stopReason, tasks: this.tasksDone }, 'stop');
  }

  /** Long-polls for a task and prepares it; undefined when none came (the loop asks again). */
  private async waitForTask(): Promise<Prepared | undefined> {
    const reply = await this.nextTask(this.waitMs);
    if (reply.stop !== undefined) {
      this.stopReason = reply.stop;
      return undefined;
    }
    if (!reply.task) {
      await sleep(reply.retryAfterMs ?? 0, this.stopping.signal);
      return undefined;
    }
    return this.prepare(workTaskFrom(reply.task));
  }

  /** Asks for the next task without waiting and prepares it; undefined when there is none (or on any trouble: the main loop asks again). */
  private async prefetch(): Promise<Prepared | undefined> {
    if (this.stopReason) return undefined;
    try {
      const reply = await this.nextTask(0);
      if (reply.stop !== undefined) {
        this.stopReason = reply.stop;
        return undefined;
      }
      return reply.task ? await this.prepare(workTaskFrom(reply.task)) : undefined;
    } catch (e) {
      if (e instanceof SessionLost) throw e;
      this.log.debug({ err: e }, 'prefetch failed; asking again after this task');
      return undefined;
    }
  }

  /** A task that came with a SubmitResult reply: held from now on, then prepared. */
  private accept(t: NonNullable<SubmitReply['next']>): Promise<Prepared | undefined> {
    const task = workTaskFrom(t);
    this.holding.set(describeTask(task), task);
    return this.prepare(task);
  }

  private nextTask(waitMs: number): Promise<TaskReply> {
    const holding = [...this.holding.values()].map(taskRef);
    return this.call('NextTask', async () => {
      const reply = await this.conn.nextTask(this.workerId, this.ctx!.jobId, waitMs, holding, this.stopping.signal);
      if (reply.task) {
        const task = workTaskFrom(reply.task);
        this.holding.set(describeTask(task), task);
      }
      return reply;
    }).catch((e: unknown) => {
      // A long poll cancelled because the worker stops is not an error.
      if ((e as ServiceError).code === Status.CANCELLED && this.stopReason) return { stop: this.stopReason } as TaskReply;
      throw e;
    });
  }

  /** Makes sure the task's parameters are here (and pins them); undefined when the task went stale. */
  private async prepare(task: WorkTask): Promise<Prepared | undefined> {
    const slot = await this.weightsFor(task.runId, task.version, 0);
    if (!slot) {
      // The run moved past this version (another worker finished the phase): the task is stale.
      this.holding.delete(describeTask(task));
      this.log.debug({ task: describeTask(task) }, 'task went stale before it started');
      return undefined;
    }
    slot.pins++;
    let pinned = true;
    const done = () => {
      if (pinned) slot.pins--;
      pinned = false;
    };
    return { task, weights: slot, done };
  }

  /**
   * The slot holding (runId, version): already here, on its way, or downloaded now. undefined
   * when the coordinator no longer (or, after `waitMs`, not yet) has that version.
   */
  private weightsFor(runId: number, version: number, waitMs: number): Promise<WeightsSlot | undefined> {
    const have = this.weights!.find(runId, version);
    if (have?.ready) return Promise.resolve(have);
    const key = `${runId}:${version}`;
    const inFlight = this.fetching.get(key);
    if (inFlight) return inFlight.then((slot) => slot ?? (waitMs === 0 ? this.weightsFor(runId, version, 0) : undefined));
    const ctx = this.ctx!;
    const slot = this.weights!.acquire(runId, version);
    const download = this.call('GetParams', () => this.conn.getParams(this.workerId, ctx.jobId, runId, version, ctx.meta.compression, ctx.paramLayout, slot.views, waitMs))
      .then(() => {
        slot.ready = true;
        this.o.observer?.paramsDownloaded();
        return slot;
      })
      .catch((e: unknown) => {
        this.weights!.abandon(slot);
        if ((e as ServiceError).code === Status.FAILED_PRECONDITION) return undefined;
        throw e;
      })
      .finally(() => this.fetching.delete(key));
    this.fetching.set(key, download);
    return download;
  }

  private async submit(task: WorkTask, r: ThreadResult, wantNext: boolean): Promise<SubmitReply | undefined> {
    const ctx = this.ctx!;
    const header: ResultHeader = {
      workerId: this.workerId,
      jobId: ctx.jobId,
      runId: task.runId,
      step: task.version,
      microbatch: task.index,
      kind: task.kind === 'train' ? TaskKind.TRAIN : TaskKind.EVAL,
      paramVersion: task.version,
      computeMs: r.computeMs,
      codec: ctx.meta.compression,
      phase: task.phase,
      leaves: r.leaves.map(
        (l): LeafResult => ({
          count: l.count,
          loss: l.loss,
          headLosses: l.headLosses,
          headNormalizers: l.headNormalizers,
          correct: l.correct ?? 0,
          hasCorrect: l.correct !== undefined,
          ...(l.nonFinite ? { nonFinite: l.nonFinite } : {}),
          attacks: l.attacks ?? [],
        }),
      ),
      wantNext: wantNext && !this.stopReason,
    };
    const tensors = r.vector ? layoutViews(r.vector, ctx.pieceSizes) : [];
    try {
      const reply = await this.call('SubmitResult', () => {
        // The call opened while the task computed, or (on a retry, or without one) a new one.
        const pending = this.upload ?? this.conn.openSubmit();
        this.upload = undefined;
        return pending.send(header, tensors, ctx.meta.compression, ctx.meta.chunkBytes);
      });
      this.tasksDone++;
      this.o.observer?.taskDone(task.kind, reply.accepted ? 'accepted' : 'not_needed', r.computeMs, valuesOf(tensors));
      if (!reply.accepted) this.log.debug({ task: describeTask(task), note: reply.note }, 'result not needed');
      return reply;
    } catch (e) {
      if (e instanceof SessionLost) throw e;
      const code = (e as ServiceError).code;
      // A rejection (bad or stale result): the coordinator gives the task to someone else.
      if (code === Status.INVALID_ARGUMENT || code === Status.FAILED_PRECONDITION) {
        this.log.warn({ task: describeTask(task), code: statusName(e), details: (e as ServiceError).details }, 'result rejected');
        this.o.observer?.taskDone(task.kind, 'rejected', r.computeMs, valuesOf(tensors));
      } else throw e;
      return undefined;
    } finally {
      this.holding.delete(describeTask(task));
      if (r.vector) ctx.thread.recycle(r.vector);
    }
  }

  /**
   * One call to the coordinator. NOT_FOUND means this worker is unknown there (SessionLost);
   * a coordinator that cannot be reached is called again after a growing, bounded delay, until
   * the watchdog gives up (no contact for `unreachableMs`).
   */
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (this.fatal) throw this.fatal;
      try {
        const r = await fn();
        this.contact();
        return r;
      } catch (e) {
        if (this.fatal) throw this.fatal;
        const code = (e as ServiceError).code;
        if (!isUnreachable(e)) this.contact(); // the coordinator answered, if only to refuse
        // A refused join token does not get better by asking again: give up with the reason.
        if (code === Status.UNAUTHENTICATED) {
          this.fatal = new WorkerFatalError(`the coordinator at ${this.o.coordinator} refused ${what}: ${(e as ServiceError).details} (UNAUTHENTICATED; check --token-file / $GRADFLEET_JOIN_TOKEN)`);
          this.stopping.abort();
          this.giveUp(this.fatal);
          throw this.fatal;
        }
        if (code === Status.NOT_FOUND && what !== 'Register') throw new SessionLost((e as ServiceError).details);
        if (!isUnreachable(e) || this.stopReason) throw e;
        const now = Date.now();
        // The details say why (a refused TLS handshake reads 'certificate required', 'self-signed certificate'…).
        this.lastFailure = `${what}: ${statusName(e)}${(e as ServiceError).details ? ` (${(e as ServiceError).details.slice(0, 300)})` : ''}`;
        this.o.observer?.unreachable(what);
        const delayMs = retryDelay(this.reconnect, attempt);
        this.log.warn({ call: what, code: statusName(e), attempt: attempt + 1, sinceContactMs: now - this.lastContact, retryInMs: delayMs, giveUpInMs: Math.max(0, this.reconnect.giveUpAfterMs - (now - this.lastContact)) }, 'coordinator unreachable; trying again');
        await sleep(delayMs, this.stopping.signal);
      }
    }
  }

  /** A call reached the coordinator. */
  private contact(): void {
    this.lastContact = Date.now();
  }

  /** Says when the connection to the coordinator is lost and when it is back (the channel reconnects by itself, with backoff). */
  private channelState(state: ConnectivityState): void {
    if (state === ConnectivityState.READY) {
      if (this.disconnectedAt !== undefined) this.log.info({ downMs: Date.now() - this.disconnectedAt }, 'connected to the coordinator again');
      this.connected = true;
      this.disconnectedAt = undefined;
    } else if (state !== ConnectivityState.SHUTDOWN && this.connected && this.disconnectedAt === undefined) {
      this.disconnectedAt = Date.now();
      this.log.warn({ state: ConnectivityState[state], giveUpAfterMs: this.reconnect.giveUpAfterMs }, 'lost the connection to the coordinator; reconnecting with backoff');
    }
  }

  /** Gives up once nothing has reached the coordinator for `unreachableMs`, whatever the loop is waiting on. */
  private startWatchdog(): void {
    const limit = this.reconnect.giveUpAfterMs;
    this.watchdog = setInterval(
      () => {
        const now = Date.now();
        if (this.fatal || !shouldGiveUp(this.reconnect, this.lastContact, now)) return;
        this.fatal = new WorkerFatalError(
          `coordinator at ${this.o.coordinator} unreachable for ${((now - this.lastContact) / 1000).toFixed(1)}s (--unreachable-timeout ${limit} ms${this.lastFailure ? `; last failure ${this.lastFailure}` : ''}); giving up`,
        );
        this.stopping.abort();
        this.giveUp(this.fatal);
      },
      Math.max(50, Math.min(1000, Math.floor(limit / 10))),
    );
  }

  private startHeartbeats(): void {
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.heartbeatMs);
    this.heartbeatTimer.unref();
  }

  private async heartbeat(): Promise<void> {
    if (this.heartbeatInFlight || !this.ctx) return;
    this.heartbeatInFlight = true;
    try {
      const r = await this.conn.heartbeat(this.workerId, this.ctx.jobId);
      this.contact();
      if (r.stop) this.stop(r.stop);
      else if (r.drain) this.stop('drain requested by the coordinator');
      // known=false: the next call gets NOT_FOUND and the loop registers again.
    } catch (e) {
      if (!isUnreachable(e)) this.contact();
      this.log.debug({ code: statusName(e) }, 'heartbeat failed');
    } finally {
      this.heartbeatInFlight = false;
    }
  }

  /** Says goodbye so that the coordinator hands back anything still held at once. */
  private async leave(): Promise<void> {
    if (!this.workerId) return;
    try {
      await this.conn.leave(this.workerId, this.stopReason ?? 'worker exiting');
    } catch (e) {
      this.log.debug({ code: statusName(e) }, 'leave not delivered (coordinator gone)');
    }
  }
}
