/**
 * The coordinator's service logic, without gRPC: registration, leases, long-polled task
 * hand-out, result validation and submission, parameter and data transfers. It drives the
 * Scheduler (which task goes where, first result wins) and the worker registry, and tells the
 * lifecycle when every run is done. coordinator/dispatch/server.ts maps it onto the wire and its typed
 * errors onto gRPC status codes.
 */
import type { Logger } from '../../shared/log.js';
import type { ResultHeader, TensorChunk } from '../../shared/proto/gen/cluster.js';
import { TaskKind } from '../../shared/proto/gen/cluster.js';
import type { JobPackage } from '../../shared/cluster/job-wire.js';
import { paramsLayout, trainResultLayout } from '../../shared/cluster/job-wire.js';
import { encodeTensorChunks, type ExpectedTensor } from '../../shared/cluster/tensor-stream.js';
import { NO_TENSORS, resultStreamLimits, type StreamLimits } from './result-limits.js';
import type { CodecName } from '../../shared/tensor/index.js';
import { isNonFinite } from '../aggregate/non-finite.js';
import type { Arena, FlatVector } from '../../shared/kernels/index.js';
import type { LeafStats } from '../../shared/engine/leaf.js';
import { Scheduler, TaskRejected, type PhaseOwner } from './scheduler.js';
import { taskKey, type PhaseSpec, type TaskResult, type TaskSpec } from '../run/task.js';
import { tasksOf } from './task-grouping.js';
import { TransferMeter } from './transfer-meter.js';
import { MAX_INFO_CHARS, WorkerRegistry, noWorkersWarningDue, type WorkerInfo } from './worker-registry.js';
import { ChangeSignal } from './change-signal.js';
import { BadRequestError, DataNotStreamedError, MalformedResultError, ParamsVersionError, StaleResultError, UnknownRunError, UnknownWorkerError, WrongJobError } from '../errors.js';

/** What the dispatcher needs of a run (coordinator/run/training-run.ts's TrainingRun is one). */
export interface ClusterRun {
  readonly id: number;
  readonly name: string;
  readonly done: boolean;
  /** Tensor sizes of a training result's vector: the params' gradients, then the buffers' weighted states. */
  readonly pieceSizes: readonly number[];
  firstPhase(): PhaseSpec | null;
  /** A task's result was accepted (the run takes its vector). */
  taskDone(phase: string, task: TaskSpec, result: TaskResult): void;
  /** Every task of the phase has a result (by task index): the next phase, or null when the run is over. */
  completePhase(phase: string, results: TaskResult[]): PhaseSpec | null;
  /** The parameters tasks of `version` need. The arrays may change after the call returns. */
  currentParams(): { version: number; params: Float32Array[]; buffers: Float32Array[] };
}

export interface DatasetArrays {
  features: Float32Array;
  labels: Int32Array | Float32Array;
}

export interface DispatcherOptions {
  jobId: string;
  /** Counts tensor bytes in and out (summary.json's `transfer`); a private one when not given. */
  transfer?: TransferMeter;
  /** The runs' arena: training results are decoded straight into vectors of it. */
  arena: Arena;
  job: JobPackage;
  data: DatasetArrays;
  runs: readonly ClusterRun[];
  scheduler: Scheduler;
  registry: WorkerRegistry;
  heartbeatMs: number;
  /** Longest a NextTask call is held when no task is ready. */
  maxWaitMs: number;
  /** A pool empty this long logs that the job is waiting for workers (and repeats at this interval). */
  waitWarningMs: number;
  now: () => number;
  log: Logger;
}

/** A task as a worker names it: (run, phase, index). */
export interface TaskRef {
  runId: number;
  phase: string;
  index: number;
}

export type NextTaskOutcome = { task: TaskSpec } | { retryAfterMs: number } | { stop: string };

/**
 * A result header that names a current task: what its tensors must look like and, for training,
 * the vector they are decoded into (the caller hands it to completeResult, or to discard when
 * the stream fails).
 */
export type ResultExpectation = { kind: 'expected'; key: string; spec: TaskSpec; layout: ExpectedTensor[]; limits: StreamLimits; into?: FlatVector } | { kind: 'late'; note: string };

export interface JobEnd {
  /** false when a run crashed (an exception while completing a phase). */
  ok: boolean;
  reason: string;
  /**
   * The coordinator was stopped before the job ended and will be resumed from its checkpoints:
   * workers are not told to stop (they keep trying to reach the coordinator), and results that
   * arrive now are ignored so that the runs stay as checkpointed.
   */
  interrupted?: true;
}

export class Dispatcher {
  private readonly runs = new Map<number, ClusterRun>();
  private readonly changed = new ChangeSignal();
  /** Task keys handed to each worker and not yet answered, with when (to reconcile with what the worker lists). */
  private readonly assigned = new Map<string, Map<string, number>>();
  /** Tasks handed back by a lost or leaving worker and not yet handed out again: from whom, since when. */
  private readonly orphaned = new Map<string, { from: string; at: number }>();
  /** Orphaned tasks handed out again and not yet answered, for the recovery log line. */
  private readonly recovering = new Map<string, { from: string; lostAt: number }>();
  /** The phase each run is in now (the tasks the scheduler holds for it). */
  private readonly phaseOf = new Map<number, string | undefined>();
  private startedAt = 0;
  private firstAccepted = false;
  private end: JobEnd | undefined;
  private resolveEnd!: (end: JobEnd) => void;
  /** Resolves once every run is done (or one crashed). */
  readonly finished: Promise<JobEnd>;
  private paramsCache = new Map<number, { version: number; codec: string; chunks: TensorChunk[]; bytes: number }>();
  private dataCache = new Map<string, TensorChunk[]>();
  private lastNoWorkersWarning: number | undefined;
  private readonly trainLayout: ExpectedTensor[];
  private readonly paramLayout: ExpectedTensor[];
  private readonly trainLimits: StreamLimits;
  /** The highest step each run's phases have reached (results naming a later one are refused). */
  private readonly stepReached = new Map<number, number>();

  /** Tensor bytes in and out. */
  readonly transfer: TransferMeter;

  constructor(private readonly o: DispatcherOptions) {
    this.transfer = o.transfer ?? new TransferMeter();
    for (const r of o.runs) this.runs.set(r.id, r);
    this.finished = new Promise((resolve) => (this.resolveEnd = resolve));
    this.trainLayout = trainResultLayout(o.job.metadata.train);
    this.paramLayout = paramsLayout(o.job.metadata.train);
    this.trainLimits = resultStreamLimits(this.trainLayout, o.job.metadata.compression, o.job.metadata.chunkBytes);
  }

  get jobId(): string {
    return this.o.jobId;
  }

  get job(): JobPackage {
    return this.o.job;
  }

  get registry(): WorkerRegistry {
    return this.o.registry;
  }

  /** The job's outcome once it ended. */
  get ended(): JobEnd | undefined {
    return this.end;
  }

  /**
   * Installs every run's first phase, or for runs restored from a checkpoint the phase given in
   * `resumed` (by run id).
   */
  start(resumed: ReadonlyMap<number, PhaseSpec | null> = new Map()): void {
    const now = this.o.now();
    this.startedAt = now;
    for (const run of this.runs.values()) {
      const phase = resumed.has(run.id) ? resumed.get(run.id)! : run.firstPhase();
      this.phaseOf.set(run.id, phase?.name);
      this.reached(run.id, phase);
      this.o.scheduler.startPhase(this.tracked(run), this.tasksFor(phase), now);
    }
    this.checkFinished();
  }

  /**
   * A run that joins a job already going (a search's next trial): its first phase is scheduled
   * at once. Called from inside another run's completePhase too, before that run's own phase is
   * retired, so the job never looks finished in between.
   */
  addRun(run: ClusterRun, phase: PhaseSpec | null): void {
    if (this.runs.has(run.id)) throw new Error(`run id ${run.id} (${run.name}) is already in the job`);
    this.runs.set(run.id, run);
    this.phaseOf.set(run.id, phase?.name);
    this.reached(run.id, phase);
    this.o.scheduler.startPhase(this.tracked(run), this.tasksFor(phase), this.o.now());
    this.changed.notify();
  }

  /** A phase's tasks for the pool as it is now (task-grouping.ts). */
  private tasksFor(phase: PhaseSpec | null): TaskSpec[] {
    if (!phase) return [];
    // A lossy codec (fp16, int8) rounds each uploaded vector. Rounding a worker's pre-reduced node
    // would round a sum whose grouping follows the pool, and the bits would then depend on the
    // worker count: compressed training results stay one task per micro-batch, rounded alike
    // whoever computes them, and the coordinator sums the decoded leaves over the fixed tree.
    const perLeaf = phase.kind === 'train' && this.o.job.metadata.compression !== 'none';
    return tasksOf(phase, perLeaf ? Number.POSITIVE_INFINITY : this.o.registry.size);
  }

  private reached(runId: number, phase: PhaseSpec | null | undefined): void {
    if (phase && phase.step > (this.stepReached.get(runId) ?? -1)) this.stepReached.set(runId, phase.step);
  }

  /** The phase a run is in now (undefined once it is done). */
  activePhase(runId: number): string | undefined {
    return this.phaseOf.get(runId);
  }

  /** The run as the scheduler sees it, noting which phase it moves to. */
  private tracked(run: ClusterRun): PhaseOwner {
    return {
      id: run.id,
      taskDone: (phase, task, result) => run.taskDone(phase, task, result),
      completePhase: (phase, results) => {
        const next = run.completePhase(phase, results);
        this.phaseOf.set(run.id, next?.name);
        this.reached(run.id, next);
        return this.tasksFor(next);
      },
    };
  }

  register(info: WorkerInfo): { workerId: string; jobId: string; leaseMs: number; heartbeatMs: number } {
    for (const field of ['name', 'device', 'deviceDetail', 'version'] as const) {
      if (info[field].length > MAX_INFO_CHARS) throw new BadRequestError(`registration field '${field}' has ${info[field].length} characters, at most ${MAX_INFO_CHARS} are taken`);
    }
    if (!Number.isInteger(info.threads) || info.threads < 0 || info.threads > 65_536) throw new BadRequestError(`registration says ${info.threads} threads`);
    const w = this.o.registry.register(info, this.o.now());
    this.o.log.info({ workerId: w.id, name: w.name, device: w.device, detail: w.deviceDetail, threads: w.threads, workers: this.o.registry.size }, 'worker registered');
    return { workerId: w.id, jobId: this.o.jobId, leaseMs: this.o.registry.leaseMs, heartbeatMs: this.o.heartbeatMs };
  }

  heartbeat(workerId: string, jobId: string): { known: boolean; drain: boolean; stop: string } {
    const w = this.o.registry.touch(workerId, this.o.now());
    if (!w) return { known: false, drain: false, stop: '' };
    this.checkJob(jobId);
    return { known: true, drain: w.state === 'draining', stop: this.end && !this.end.interrupted ? this.end.reason : '' };
  }

  /** A worker says goodbye; its tasks go back to the pool at once. Unknown workers are fine (idempotent). */
  leave(workerId: string, reason: string): void {
    const w = this.o.registry.remove(workerId, this.o.now());
    if (!w) return;
    const handedBack = this.lost(workerId);
    this.o.log.info({ workerId, reason, handedBack: handedBack.length, workers: this.o.registry.size }, 'worker left');
  }

  /**
   * The next task for a worker. Waits up to `waitMs` (capped) for one to become ready; answers
   * `stop` once the job is over or the worker drains, `retryAfterMs` when the wait ran out.
   */
  async nextTask(workerId: string, jobId: string, waitMs: number, holding: readonly TaskRef[], abort?: AbortSignal): Promise<NextTaskOutcome> {
    this.touchKnown(workerId);
    this.checkJob(jobId);
    this.reconcile(workerId, holding);
    const deadline = this.o.now() + Math.min(Math.max(0, waitMs), this.o.maxWaitMs);
    let waitedOut = false;
    for (;;) {
      // An interrupted coordinator hands out nothing more, but does not send its workers away:
      // they wait for it to come back.
      if (this.end?.interrupted) return { retryAfterMs: this.o.heartbeatMs };
      if (this.end) return { stop: this.end.reason };
      const w = this.o.registry.get(workerId);
      if (!w) throw new UnknownWorkerError(workerId);
      if (w.state === 'draining') return { stop: 'draining: finish the current task and leave' };
      const now = this.o.now();
      const task = this.o.scheduler.next(workerId, now);
      if (task) {
        this.o.registry.markTraining(workerId);
        this.handedOut(workerId, taskKey(task), now);
        return { task };
      }
      const left = deadline - now;
      if (left <= 0 || waitedOut) return { retryAfterMs: Math.min(250, this.o.heartbeatMs) };
      const woke = await this.changed.wait(left, abort);
      if (woke === 'aborted') return { retryAfterMs: 0 };
      // After the wait's own timer, look once more, then answer.
      waitedOut = woke === 'timeout';
    }
  }

  /**
   * Tasks this worker was given but no longer lists (a NextTask reply lost on the way, a crash
   * and restart under the same id) go back to the pool, so no task is stranded with a worker
   * that does not know it holds it.
   */
  private reconcile(workerId: string, holding: readonly TaskRef[]): void {
    const assigned = this.assigned.get(workerId);
    if (!assigned || assigned.size === 0) return;
    const listed = new Set(holding.map((t) => taskKey(t)));
    let released = 0;
    for (const key of [...assigned.keys()]) {
      if (listed.has(key)) continue;
      assigned.delete(key);
      if (this.o.scheduler.holds(workerId, key)) {
        this.o.scheduler.handBack(workerId, key);
        released++;
      }
    }
    if (released > 0) {
      this.o.log.warn({ workerId, released }, 'worker no longer holds tasks it was given: handed back');
      this.changed.notify();
    }
  }

  private assignedTo(workerId: string): Map<string, number> {
    let s = this.assigned.get(workerId);
    if (!s) this.assigned.set(workerId, (s = new Map()));
    return s;
  }

  /** Records a hand-out; says when it is a lost worker's task going elsewhere, or a straggler's backup. */
  private handedOut(workerId: string, key: string, now: number): void {
    const orphan = this.orphaned.get(key);
    if (orphan) {
      this.orphaned.delete(key);
      this.recovering.set(key, { from: orphan.from, lostAt: orphan.at });
      this.o.log.info({ task: key, from: orphan.from, to: workerId, afterMs: now - orphan.at }, 'task reassigned');
    } else {
      for (const [holder, keys] of this.assigned) {
        const since = holder === workerId ? undefined : keys.get(key);
        if (since !== undefined && this.o.scheduler.holds(holder, key)) this.o.log.info({ task: key, holder, heldMs: now - since, backup: workerId }, 'straggler: task also handed to an idle worker; the first result wins');
      }
    }
    this.assignedTo(workerId).set(key, now);
    this.o.log.debug({ task: key, workerId }, 'task handed out');
  }

  /** A worker is gone: its tasks go back to the pool (noted, for the reassignment log line). */
  private lost(workerId: string): string[] {
    const handedBack = this.o.scheduler.workerLost(workerId);
    this.assigned.delete(workerId);
    const now = this.o.now();
    for (const key of handedBack) if (this.o.scheduler.lookup(key) && !this.orphaned.has(key)) this.orphaned.set(key, { from: workerId, at: now });
    if (handedBack.length > 0) this.changed.notify();
    return handedBack;
  }

  /**
   * Checks a result's header against the task it names, before its tensors are read. A result
   * for a task that is no longer current is 'late' (answered OK, accepted=false).
   */
  beginResult(h: ResultHeader): ResultExpectation {
    this.touchKnown(h.workerId);
    this.checkJob(h.jobId);
    const key = taskKey({ runId: h.runId, phase: h.phase, index: h.microbatch });
    if (this.end) return this.late(h.workerId, key, `the job has ended (${this.end.reason}); result for task ${key} ignored`);
    // Everything below only reads: a rejected header leaves the runs, the scheduler and the arena as they were.
    const run = this.runs.get(h.runId);
    if (!run) throw new UnknownRunError(h.runId);
    if (!h.phase.startsWith('train:') && !h.phase.startsWith('eval:')) throw new MalformedResultError(`result for task ${key}: '${h.phase}' is not a phase name (train:… or eval:…)`);
    const spec = this.o.scheduler.lookup(key);
    if (!spec) {
      // A step no phase of the run has reached yet cannot have been computed by anyone. (Runs
      // whose phases are installed past the dispatcher, a relay's, have no record: late.)
      const reached = this.stepReached.get(h.runId);
      if (reached !== undefined && (h.step > reached || h.paramVersion > reached)) throw new StaleResultError(`result for task ${key} names step ${h.step} (parameters version ${h.paramVersion}); run ${h.runId} has not reached it (step ${reached})`);
      return this.late(h.workerId, key, `task ${key} is not current (late or duplicate result ignored)`);
    }
    const kind = h.kind === TaskKind.TRAIN ? 'train' : h.kind === TaskKind.EVAL ? 'eval' : undefined;
    if (kind !== spec.kind) throw new MalformedResultError(`result for task ${key} says kind ${TaskKind[h.kind] ?? h.kind}, the task is ${spec.kind}`);
    if (h.paramVersion !== spec.step) throw new StaleResultError(`result for task ${key} was computed on parameters version ${h.paramVersion}; the task needs version ${spec.step}`);
    if (h.step !== spec.step) throw new StaleResultError(`result for task ${key} names step ${h.step}; the task is of step ${spec.step}`);
    if (h.leaves.length !== spec.leaves.length) throw new MalformedResultError(`result for task ${key} reports ${h.leaves.length} leaves; the task has ${spec.leaves.length}`);
    h.leaves.forEach((leaf, j) => {
      if (leaf.count !== spec.leaves[j]!.indices.length) throw new MalformedResultError(`result for task ${key}: leaf ${j} covers ${leaf.count} samples; the task gave it ${spec.leaves[j]!.indices.length}`);
      // Attack figures: none, or one per evaluation attack of the job, each a count within the shard.
      const attacks = this.o.job.metadata.adversarial?.evaluate.length ?? 0;
      if (leaf.attacks.length > 0 && (spec.kind !== 'eval' || leaf.attacks.length !== attacks)) throw new MalformedResultError(`result for task ${key}: leaf ${j} reports ${leaf.attacks.length} attack figures; the job evaluates ${spec.kind === 'eval' ? attacks : 0} attacks on this task`);
      for (const a of leaf.attacks) if (!(Number.isInteger(a.correct) && a.correct >= 0 && a.correct <= leaf.count && Number.isFinite(a.loss))) throw new MalformedResultError(`result for task ${key}: leaf ${j} reports ${a.correct} adversarial examples right of ${leaf.count}, loss ${a.loss}`);
    });
    // Authority, before any tensor is read or any vector taken: only a holder of the task may
    // send its result. A task that already has one answers as a duplicate (a backup's result).
    const standing = this.o.scheduler.standing(h.workerId, key);
    if (standing === 'done') {
      this.assigned.get(h.workerId)?.delete(key);
      return this.late(h.workerId, key, `task ${key} already has a result (duplicate ignored)`);
    }
    if (standing !== 'held') throw new TaskRejected('not-assigned', `task ${key} is not assigned to worker ${h.workerId}`);
    if (spec.kind !== 'train') return { kind: 'expected', key, spec, layout: [], limits: NO_TENSORS };
    return { kind: 'expected', key, spec, layout: this.trainLayout, limits: this.trainLimits, into: this.o.arena.vector(run.pieceSizes) };
  }

  /** A result stream that failed after beginResult: its vector goes back to the arena. */
  discard(e: ResultExpectation): void {
    if (e.kind === 'expected' && e.into) this.o.arena.release(e.into);
  }

  /**
   * Submits a result whose tensors matched the expectation (decoded into `e.into`). The
   * scheduler decides: first result wins, duplicates are ignored, a task not held by the worker
   * is rejected (TaskRejected), and a non-finite result is rejected once so that another worker
   * recomputes it. With `wantNext`, the worker's next task comes back too when one is ready.
   */
  completeResult(h: ResultHeader, e: Extract<ResultExpectation, { kind: 'expected' }>, wantNext = false): { accepted: boolean; note: string; next?: TaskSpec } {
    const leaves: LeafStats[] = h.leaves.map((l) => ({
      count: l.count,
      loss: l.loss,
      headLosses: l.headLosses,
      headNormalizers: l.headNormalizers,
      correct: l.hasCorrect ? l.correct : undefined,
      ...(l.nonFinite ? { nonFinite: { param: l.nonFinite.param, element: l.nonFinite.element, value: l.nonFinite.value } } : {}),
      ...(l.attacks.length > 0 ? { attacks: l.attacks.map((a) => ({ correct: a.correct, loss: a.loss })) } : {}),
    }));
    const result: TaskResult = { leaves, vector: e.into, workerId: h.workerId, computeMs: h.computeMs };
    const paramCount = this.o.job.metadata.train.params.length;
    // The worker's own account is not taken on trust: the gradient is checked here too.
    const nonFinite = leaves.some((l) => isNonFinite(l.loss) || l.nonFinite !== undefined) || (e.into !== undefined && this.o.arena.kernels.first_nonfinite(e.into.ptr, e.into.offsets[paramCount]!) >= 0);
    let outcome;
    try {
      outcome = this.o.scheduler.submit(h.workerId, e.key, result, nonFinite, this.o.now());
    } catch (err) {
      if (result.vector) this.o.arena.release(result.vector);
      if (err instanceof TaskRejected) {
        if (err.code === 'invalid') this.changed.notify(); // the task is pending again
        throw err;
      }
      // The run failed while turning this phase into the next one: the job cannot go on.
      this.o.log.error({ err, runId: e.spec.runId, task: e.key }, 'run failed while completing a phase');
      this.finish({ ok: false, reason: `run ${e.spec.runId} failed: ${(err as Error).message}` });
      return { accepted: true, note: 'the run failed after this result; the job stops' };
    }
    // An accepted result's vector was taken by its run; any other is not needed.
    if (result.vector) this.o.arena.release(result.vector);
    this.assigned.get(h.workerId)?.delete(e.key);
    if (!outcome.accepted) {
      this.o.log.info({ task: e.key, workerId: h.workerId }, 'late or duplicate result ignored');
      return { accepted: false, note: outcome.note, ...this.nextFor(h.workerId, wantNext) };
    }
    this.o.log.debug({ task: e.key, workerId: h.workerId }, 'result accepted');
    this.accepted(h.workerId, e.key);
    if (outcome.phaseDone) {
      for (const m of [this.orphaned, this.recovering]) for (const key of m.keys()) if (!this.o.scheduler.lookup(key)) m.delete(key);
      this.changed.notify();
      this.checkFinished();
    }
    return { accepted: true, note: '', ...this.nextFor(h.workerId, wantNext) };
  }

  /** The worker's next task, handed out now (no waiting), when it asked for one and one is ready. */
  private nextFor(workerId: string, wanted: boolean): { next?: TaskSpec } {
    if (!wanted || this.end) return {};
    const w = this.o.registry.get(workerId);
    if (!w || w.state === 'draining') return {};
    const now = this.o.now();
    const task = this.o.scheduler.next(workerId, now);
    if (!task) return {};
    this.o.registry.markTraining(workerId);
    this.handedOut(workerId, taskKey(task), now);
    return { next: task };
  }

  private late(workerId: string, key: string, note: string): ResultExpectation {
    this.o.log.info({ task: key, workerId }, 'late or duplicate result ignored');
    return { kind: 'late', note };
  }

  /** Log lines that measure recovery: the first result after (re)start, a lost task's result. */
  private accepted(workerId: string, key: string): void {
    const now = this.o.now();
    if (!this.firstAccepted) {
      this.firstAccepted = true;
      this.o.log.info({ task: key, workerId, sinceStartMs: now - this.startedAt }, 'first result accepted');
    }
    const r = this.recovering.get(key);
    if (r) {
      this.recovering.delete(key);
      this.o.log.info({ task: key, from: r.from, by: workerId, sinceLostMs: now - r.lostAt }, "lost worker's task completed by another worker");
    }
  }

  /** Renews the worker's lease; throws when the worker is unknown or names another job. */
  admit(workerId: string, jobId: string): void {
    this.touchKnown(workerId);
    this.checkJob(jobId);
  }

  /** Parameter chunks of a run at a version, encoded once per version and codec and shared by all workers. */
  paramsChunks(workerId: string, jobId: string, runId: number, version: number, codec: CodecName): TensorChunk[] {
    this.touchKnown(workerId);
    this.checkJob(jobId);
    const run = this.runs.get(runId);
    if (!run) throw new UnknownRunError(runId);
    const cached = this.paramsCache.get(runId);
    if (cached && cached.version === version && cached.codec === codec) {
      this.transfer.paramsSent(cached.bytes);
      return cached.chunks;
    }
    const current = run.currentParams();
    if (current.version !== version) throw new ParamsVersionError(runId, version, current.version);
    const tensors = [...current.params, ...current.buffers];
    if (tensors.length !== this.paramLayout.length) throw new Error(`run ${runId} holds ${tensors.length} tensors; the job's graph has ${this.paramLayout.length} params and buffers`);
    // Encoding copies the values: the run may update its arrays in place while a stream is in flight.
    const chunks = encodeTensorChunks(tensors, { codec, chunkBytes: this.o.job.metadata.chunkBytes, version });
    const bytes = chunks.reduce((a, c) => a + c.data.length, 0);
    this.paramsCache.set(runId, { version, codec, chunks, bytes });
    this.transfer.paramsSent(bytes);
    return chunks;
  }

  /**
   * paramsChunks, but a request for the version after the run's current one is held (up to
   * `waitMs`) until the step that makes it completes: a worker asks for the next step's
   * parameters as it sends its result, and they stream the moment the update is done.
   */
  async paramsChunksWhenReady(workerId: string, jobId: string, runId: number, version: number, codec: CodecName, waitMs: number, abort?: AbortSignal): Promise<TensorChunk[]> {
    const deadline = this.o.now() + Math.min(Math.max(0, waitMs), this.o.maxWaitMs);
    // Waiting is the expected case: the version is looked at without building an error each time.
    for (;;) {
      const current = this.runs.get(runId)?.currentParams().version;
      const left = deadline - this.o.now();
      if (current !== version - 1 || left <= 0 || this.end) break;
      if ((await this.changed.wait(left, abort)) === 'aborted') break;
    }
    return this.paramsChunks(workerId, jobId, runId, version, codec);
  }

  /** The dataset's features or labels as chunks (raw little-endian values; labels as float32 or int32 bytes). */
  dataChunks(workerId: string, jobId: string, part: string): TensorChunk[] {
    this.touchKnown(workerId);
    this.checkJob(jobId);
    if (part !== 'features' && part !== 'labels') throw new BadRequestError(`data part must be 'features' or 'labels', got '${part}'`);
    const local = this.o.job.metadata.dataset.readLocally;
    if (local) throw new DataNotStreamedError(`this job has workers.data: local: workers read the dataset themselves (from ${local.baseDir} or their --data-root) and check it against SHA-256 ${local.sha256}; GetData serves nothing`);
    let chunks = this.dataCache.get(part);
    if (!chunks) {
      const arr = part === 'features' ? this.o.data.features : this.o.data.labels;
      // int32 labels travel as their bytes in the float32 framing (4 bytes per value); the
      // metadata says which type they are.
      const asF32 = new Float32Array(arr.buffer, arr.byteOffset, arr.length);
      chunks = encodeTensorChunks([asF32], { chunkBytes: this.o.job.metadata.chunkBytes });
      this.dataCache.set(part, chunks);
    }
    return chunks;
  }

  /**
   * Periodic housekeeping (the lifecycle calls it on a timer): expires leases and hands their
   * tasks back, says when the job waits for workers, and wakes waiting calls so that a straggler
   * can get a backup.
   */
  tick(): void {
    const now = this.o.now();
    for (const w of this.o.registry.expire(now)) {
      const handedBack = this.lost(w.id);
      this.o.log.warn({ workerId: w.id, name: w.name, silentMs: now - w.lastSeen, handedBack: handedBack.length, workers: this.o.registry.size }, 'worker lease expired: its tasks go to other workers');
    }
    if (!this.end && noWorkersWarningDue(this.o.registry.emptyFor(now), this.lastNoWorkersWarning, now, this.o.waitWarningMs)) {
      this.lastNoWorkersWarning = now;
      this.o.log.warn({ job: this.o.jobId, waitedMs: this.o.registry.emptyFor(now), activeRuns: this.o.scheduler.activeRuns }, 'waiting for workers: none is connected and the job has work to do');
    }
    this.changed.notify();
  }

  /** Ends the job (all runs done, a run crashed, or the lifecycle was asked to stop). */
  finish(end: JobEnd): void {
    if (this.end) return;
    this.end = end;
    this.o.log.info({ ok: end.ok, reason: end.reason, interrupted: end.interrupted ?? false }, end.interrupted ? 'job interrupted' : 'job ended');
    this.changed.notify();
    this.resolveEnd(end);
  }

  private checkFinished(): void {
    if (this.end || this.o.scheduler.activeRuns > 0) return;
    const names = [...this.runs.values()].map((r) => r.name).join(', ');
    this.finish({ ok: true, reason: `every run is done (${names})` });
  }

  private touchKnown(workerId: string): void {
    if (!this.o.registry.touch(workerId, this.o.now())) throw new UnknownWorkerError(workerId);
  }

  private checkJob(jobId: string): void {
    if (jobId !== this.o.jobId) throw new WrongJobError(jobId, this.o.jobId);
  }
}
