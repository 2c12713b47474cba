/**
 * The coordinator's service logic without sockets: long polls, leases, reconciliation of held
 * tasks, result checks, parameter snapshots, the job's end, and the gRPC status of each error.
 */
import { describe, expect, it } from 'vitest';
import { status as Status } from '@grpc/grpc-js';
import { pino } from 'pino';
import { Dispatcher, type ClusterRun } from '../../coordinator/dispatch/dispatcher.js';
import { Scheduler, TaskRejected } from '../../coordinator/dispatch/scheduler.js';
import { WorkerRegistry, type WorkerInfo } from '../../coordinator/dispatch/worker-registry.js';
import { statusFor } from '../../coordinator/dispatch/server.js';
import { BadRequestError, MalformedResultError, ParamsVersionError, StaleResultError, UnknownRunError, UnknownWorkerError, WrongJobError } from '../../coordinator/errors.js';
import { TensorStreamError } from '../../shared/cluster/errors.js';
import { TensorAssembler } from '../../shared/cluster/tensor-stream.js';
import type { JobPackage } from '../../shared/cluster/job-wire.js';
import type { TaskResult, TaskSpec } from '../../coordinator/run/task.js';
import { TaskKind, type ResultHeader } from '../../shared/proto/gen/cluster.js';

/** A run of `steps` steps with `tasks` micro-batches each; the update adds the gradients, in index order, in place. */
class FakeRun implements ClusterRun {
  readonly id = 0;
  readonly name = 'fake';
  version = 0;
  readonly params = [new Float32Array([1, 2, 3])];
  failAt: number | undefined;

  constructor(
    private readonly steps: number,
    private readonly tasks: number,
  ) {}

  get done(): boolean {
    return this.version >= this.steps;
  }

  firstPhase(): TaskSpec[] {
    return this.phase();
  }

  private phase(): TaskSpec[] {
    return Array.from({ length: this.tasks }, (_, index) => ({ runId: 0, phase: `train:${this.version}`, kind: 'train' as const, step: this.version, index, indices: Uint32Array.of(index, index + 10), maskSeed: index }));
  }

  completePhase(_phase: string, results: TaskResult[]): TaskSpec[] {
    if (this.failAt === this.version) throw new Error('optimizer exploded');
    for (const r of results) r.grads![0]!.forEach((g, i) => (this.params[0]![i]! += g));
    this.version++;
    return this.done ? [] : this.phase();
  }

  currentParams() {
    return { version: this.version, params: this.params, buffers: [] };
  }
}

const info: WorkerInfo = { name: 't', device: 'cpu', deviceDetail: 'cpu', threads: 1, version: 'test' };
const job: JobPackage = {
  metadata: {
    jobId: 'job-1',
    name: 'fake',
    compression: 'none',
    threads: 1,
    chunkBytes: 1 << 20,
    train: { params: [{ name: 'w', shape: [3], grad: 'grad:w', kind: 'weight' }], buffers: [] } as never,
    eval: {} as never,
    dataset: { name: 'd', size: 20, featureShape: [1], numClasses: 2, targetWidth: 1, labels: 'int32' },
  },
  trainModel: new Uint8Array(1),
  evalModel: new Uint8Array(1),
};

function setup(run = new FakeRun(2, 2), leaseMs = 1000) {
  let t = 0;
  const clock = { now: () => t, advance: (ms: number) => (t += ms) };
  const registry = new WorkerRegistry({ leaseMs, idPrefix: 't' }, 0);
  const d = new Dispatcher({
    jobId: 'job-1',
    job,
    data: { features: new Float32Array(20), labels: new Int32Array(20) },
    runs: [run],
    scheduler: new Scheduler(),
    registry,
    heartbeatMs: 100,
    maxWaitMs: 5000,
    waitWarningMs: 30_000,
    now: clock.now,
    log: pino({ level: 'silent' }),
  });
  d.start();
  return { d, run, clock, registry };
}

const header = (workerId: string, spec: TaskSpec, over: Partial<ResultHeader> = {}): ResultHeader => ({
  workerId,
  jobId: 'job-1',
  runId: spec.runId,
  step: spec.step,
  microbatch: spec.index,
  kind: TaskKind.TRAIN,
  paramVersion: spec.step,
  count: spec.indices.length,
  loss: 1,
  headLosses: [1],
  headNormalizers: [],
  correct: 0,
  hasCorrect: true,
  computeMs: 1,
  codec: 'none',
  phase: spec.phase,
  ...over,
});

function submit(d: Dispatcher, workerId: string, spec: TaskSpec, grad: number[], over: Partial<ResultHeader> = {}) {
  const h = header(workerId, spec, over);
  const e = d.beginResult(h);
  if (e.kind === 'late') return { accepted: false, note: e.note };
  return d.completeResult(h, e, [Float32Array.from(grad)]);
}

async function taskOf(p: Promise<unknown>): Promise<TaskSpec> {
  const r = (await p) as { task?: TaskSpec };
  if (!r.task) throw new Error(`expected a task, got ${JSON.stringify(r)}`);
  return r.task;
}

describe('Dispatcher', () => {
  it('holds a NextTask call while nothing is ready and answers it as soon as the next phase starts', async () => {
    const { d } = setup(new FakeRun(2, 1));
    const a = d.register(info).workerId;
    const b = d.register(info).workerId;
    const t0 = await taskOf(d.nextTask(a, 'job-1', 0, []));
    const waiting = d.nextTask(b, 'job-1', 5000, []);
    const started = Date.now();
    expect(submit(d, a, t0, [1, 1, 1])).toEqual({ accepted: true, note: '' });
    const t1 = await taskOf(waiting);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(t1).toMatchObject({ phase: 'train:1', index: 0, step: 1 });
  });

  it('answers retryAfter when the wait runs out, and stop to everyone once every run is done', async () => {
    const { d } = setup(new FakeRun(1, 1));
    const a = d.register(info).workerId;
    const b = d.register(info).workerId;
    const t0 = await taskOf(d.nextTask(a, 'job-1', 0, []));
    expect(await d.nextTask(b, 'job-1', 20, [])).toMatchObject({ retryAfterMs: expect.any(Number) });
    const waiting = d.nextTask(b, 'job-1', 5000, []);
    submit(d, a, t0, [0, 0, 0]);
    expect(await waiting).toEqual({ stop: 'every run is done (fake)' });
    expect(await d.finished).toEqual({ ok: true, reason: 'every run is done (fake)' });
    expect(d.heartbeat(a, 'job-1')).toEqual({ known: true, drain: false, stop: 'every run is done (fake)' });
  });

  it('hands back a task the worker no longer lists (a lost NextTask reply), and keeps the ones it lists', async () => {
    const { d } = setup(new FakeRun(1, 2));
    const a = d.register(info).workerId;
    const b = d.register(info).workerId;
    const first = await taskOf(d.nextTask(a, 'job-1', 0, []));
    expect(first.index).toBe(0);
    expect((await taskOf(d.nextTask(b, 'job-1', 0, []))).index).toBe(1);
    // a's reply was "lost": it asks again listing nothing, and gets micro-batch 0 back.
    const again = await taskOf(d.nextTask(a, 'job-1', 0, []));
    expect(again.index).toBe(0);
    // Listing it keeps it: nothing else is pending, so a waits.
    expect(await d.nextTask(a, 'job-1', 0, [{ runId: 0, phase: 'train:0', index: 0 }])).toHaveProperty('retryAfterMs');
    expect(submit(d, a, again, [1, 2, 3]).accepted).toBe(true);
  });

  it("expires a silent worker's lease on tick and gives its task to another worker", async () => {
    const { d, clock, registry } = setup(new FakeRun(1, 1), 1000);
    const a = d.register(info).workerId;
    const t0 = await taskOf(d.nextTask(a, 'job-1', 0, []));
    const b = d.register(info).workerId;
    clock.advance(900);
    expect(await d.nextTask(b, 'job-1', 0, [])).toHaveProperty('retryAfterMs');
    clock.advance(200);
    d.tick();
    expect(registry.get(a)).toBeUndefined();
    expect(registry.get(b)).toBeDefined();
    expect(await taskOf(d.nextTask(b, 'job-1', 0, []))).toMatchObject({ phase: t0.phase, index: t0.index });
    expect(() => submit(d, a, t0, [0, 0, 0])).toThrow(UnknownWorkerError);
  });

  it('rejects result headers that do not fit their task, and ignores late ones', async () => {
    const { d } = setup();
    const a = d.register(info).workerId;
    const t0 = await taskOf(d.nextTask(a, 'job-1', 0, []));
    expect(() => d.beginResult(header('w9-nobody', t0))).toThrow(UnknownWorkerError);
    expect(() => d.beginResult(header(a, t0, { jobId: 'job-2' }))).toThrow(WrongJobError);
    expect(() => d.beginResult(header(a, t0, { kind: TaskKind.EVAL }))).toThrow(/says kind EVAL, the task is train/);
    expect(() => d.beginResult(header(a, t0, { count: 3 }))).toThrow(/covers 3 samples; the task holds 2/);
    expect(() => d.beginResult(header(a, t0, { paramVersion: 4 }))).toThrow(StaleResultError);
    expect(d.beginResult(header(a, t0, { phase: 'train:7' }))).toEqual({ kind: 'late', note: 'task 0/train:7/0 is not current (late or duplicate result ignored)' });
    const other = { ...t0, index: 1 };
    expect(() => submit(d, a, other, [0, 0, 0])).toThrow(TaskRejected);
  });

  it('rejects a non-finite result once and believes the second one', async () => {
    const { d } = setup(new FakeRun(1, 1));
    const a = d.register(info).workerId;
    const b = d.register(info).workerId;
    const t0 = await taskOf(d.nextTask(a, 'job-1', 0, []));
    expect(() => submit(d, a, t0, [0, NaN, 0])).toThrow(/non-finite/);
    const retry = await taskOf(d.nextTask(b, 'job-1', 0, []));
    expect(submit(d, b, retry, [0, Infinity, 0])).toEqual({ accepted: true, note: '' });
  });

  it("serves a version's parameters as a snapshot, even after the run updated its arrays in place", async () => {
    const { d, run } = setup(new FakeRun(2, 1));
    const a = d.register(info).workerId;
    const layout = [{ name: 'w', role: 'parameter', length: 3 }];
    const decode = (chunks: ReturnType<Dispatcher['paramsChunks']>) => {
      const asm = new TensorAssembler(layout, 'params');
      chunks.forEach((c) => asm.add(c));
      return Array.from(asm.finish()[0]!);
    };
    const v0 = d.paramsChunks(a, 'job-1', 0, 0, 'none');
    expect(d.paramsChunks(a, 'job-1', 0, 0, 'none')).toBe(v0); // encoded once, shared
    submit(d, a, await taskOf(d.nextTask(a, 'job-1', 0, [])), [10, 10, 10]);
    expect(Array.from(run.params[0]!)).toEqual([11, 12, 13]);
    expect(decode(v0)).toEqual([1, 2, 3]);
    expect(decode(d.paramsChunks(a, 'job-1', 0, 1, 'none'))).toEqual([11, 12, 13]);
    expect(() => d.paramsChunks(a, 'job-1', 0, 5, 'none')).toThrow(/holds parameters at version 1; version 5 is not there yet/);
    expect(() => d.paramsChunks(a, 'job-1', 3, 1, 'none')).toThrow(UnknownRunError);
  });

  it('ends the job with ok=false when a run throws while completing a phase', async () => {
    const run = new FakeRun(3, 1);
    run.failAt = 1;
    const { d } = setup(run);
    const a = d.register(info).workerId;
    submit(d, a, await taskOf(d.nextTask(a, 'job-1', 0, [])), [1, 1, 1]);
    submit(d, a, await taskOf(d.nextTask(a, 'job-1', 0, [])), [1, 1, 1]);
    const end = await d.finished;
    expect(end).toEqual({ ok: false, reason: 'run 0 failed: optimizer exploded' });
    expect(await d.nextTask(a, 'job-1', 1000, [])).toEqual({ stop: end.reason });
  });

  it('hands a leaving worker\'s tasks back at once', async () => {
    const { d } = setup(new FakeRun(1, 1));
    const a = d.register(info).workerId;
    const b = d.register(info).workerId;
    const t0 = await taskOf(d.nextTask(a, 'job-1', 0, []));
    const waiting = d.nextTask(b, 'job-1', 5000, []);
    d.leave(a, 'SIGTERM');
    expect(await taskOf(waiting)).toMatchObject({ phase: t0.phase, index: t0.index });
    expect(d.heartbeat(a, 'job-1')).toEqual({ known: false, drain: false, stop: '' });
  });
});

describe('statusFor (the only place errors become gRPC status codes)', () => {
  it.each([
    [new UnknownWorkerError('w1'), Status.NOT_FOUND],
    [new UnknownRunError(3), Status.NOT_FOUND],
    [new WrongJobError('a', 'b'), Status.FAILED_PRECONDITION],
    [new ParamsVersionError(0, 1, 2), Status.FAILED_PRECONDITION],
    [new StaleResultError('stale'), Status.FAILED_PRECONDITION],
    [new TaskRejected('not-assigned', 'not yours'), Status.FAILED_PRECONDITION],
    [new TaskRejected('invalid', 'NaN'), Status.INVALID_ARGUMENT],
    [new MalformedResultError('bad'), Status.INVALID_ARGUMENT],
    [new TensorStreamError('short'), Status.INVALID_ARGUMENT],
    [new BadRequestError('what'), Status.INVALID_ARGUMENT],
    [new Error('bug'), Status.INTERNAL],
  ])('%s → %s', (err, code) => {
    const s = statusFor(err);
    expect(s.code).toBe(code);
    expect(s.details).toContain(err.message);
  });
});
