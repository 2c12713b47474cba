/**
 * The coordinator's service logic without sockets: long polls, leases, reconciliation of held
 * tasks, grouping of a phase into tasks for the pool, result checks (per-leaf figures, non-finite
 * values), the step's sum over the reduction tree for any grouping and arrival order, result
 * vectors given back to the arena, the next task with a result's reply, parameter snapshots and
 * held requests for the next version, the job's end, and the gRPC status of each error.
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
import { encodeTensorChunks, TensorAssembler } from '../../shared/cluster/tensor-stream.js';
import type { JobPackage } from '../../shared/cluster/job-wire.js';
import type { PhaseSpec, TaskResult, TaskSpec } from '../../coordinator/run/task.js';
import { Arena } from '../../shared/kernels/index.js';
import { TreeSum, reduceNode } from '../../shared/reduction/index.js';
import { TaskKind, type LeafResult, type ResultHeader } from '../../shared/proto/gen/cluster.js';

/**
 * A run of `steps` steps of `leaves` micro-batches each. Its one parameter, w (3 values), moves by
 * the step's gradient sum, added over the reduction tree as results are accepted (as TrainingRun
 * does): w ← w + sum.
 */
class FakeRun implements ClusterRun {
  readonly id = 0;
  readonly name = 'fake';
  version = 0;
  readonly params = [new Float32Array([1, 2, 3])];
  readonly pieceSizes = [3];
  failAt: number | undefined;
  /** The leaves of every completed phase, as the run received them. */
  readonly leavesSeen: TaskResult['leaves'][] = [];
  private sum: TreeSum | undefined;

  constructor(
    private readonly steps: number,
    private readonly leaves: number,
    private readonly arena: Arena,
  ) {}

  get done(): boolean {
    return this.version >= this.steps;
  }

  firstPhase(): PhaseSpec | null {
    return this.phase();
  }

  /** Leaf j holds samples j and j + 10; its dropout masks are seeded with j. */
  private phase(): PhaseSpec {
    this.sum?.dispose();
    this.sum = new TreeSum(this.leaves, this.arena, this.pieceSizes);
    return { runId: 0, name: `train:${this.version}`, kind: 'train', step: this.version, leaves: Array.from({ length: this.leaves }, (_, j) => ({ indices: Uint32Array.of(j, j + 10), maskSeed: j })) };
  }

  taskDone(_phase: string, task: TaskSpec, result: TaskResult): void {
    const v = result.vector!;
    result.vector = undefined;
    this.sum!.add(task.node, v);
  }

  completePhase(_phase: string, results: TaskResult[]): PhaseSpec | null {
    if (this.failAt === this.version) throw new Error('optimizer exploded');
    this.leavesSeen.push(results.flatMap((r) => r.leaves));
    const sum = this.sum!.take();
    this.sum = undefined;
    sum.parts[0]!.forEach((g, i) => (this.params[0]![i]! += g));
    this.arena.release(sum);
    this.version++;
    return this.done ? null : this.phase();
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
    microbatchesPerStep: 8,
    train: { params: [{ name: 'w', shape: [3], grad: 'grad:w', kind: 'weight' }], buffers: [] } as never,
    eval: {} as never,
    dataset: { name: 'd', size: 20, featureShape: [1], numClasses: 2, targetWidth: 1, labels: 'int32' },
  },
  trainModel: new Uint8Array(1),
  evalModel: new Uint8Array(1),
};

/**
 * A dispatcher over `run` (default: 2 steps of 4 micro-batches). `workers` workers register
 * before the job starts, so that the first phase is grouped for them (a phase is grouped for the
 * pool registered when it starts).
 */
function setup(o: { run?: (arena: Arena) => FakeRun; leaseMs?: number; workers?: number } = {}) {
  let t = 0;
  const clock = { now: () => t, advance: (ms: number) => (t += ms) };
  const arena = Arena.growable();
  const run = (o.run ?? ((a) => new FakeRun(2, 4, a)))(arena);
  const registry = new WorkerRegistry({ leaseMs: o.leaseMs ?? 1000, idPrefix: 't' }, 0);
  const d = new Dispatcher({
    jobId: 'job-1',
    arena,
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
  const ids = Array.from({ length: o.workers ?? 0 }, () => d.register(info).workerId);
  d.start();
  return { d, run, clock, registry, arena, ids };
}

const leafResult = (count: number, over: Partial<LeafResult> = {}): LeafResult => ({ count, loss: 1, headLosses: [1], headNormalizers: [], correct: 0, hasCorrect: true, attacks: [], ...over });

const header = (workerId: string, spec: TaskSpec, over: Partial<ResultHeader> = {}): ResultHeader => ({
  workerId,
  jobId: 'job-1',
  runId: spec.runId,
  step: spec.step,
  microbatch: spec.index,
  kind: TaskKind.TRAIN,
  paramVersion: spec.step,
  leaves: spec.leaves.map((l) => leafResult(l.indices.length)),
  computeMs: 1,
  codec: 'none',
  phase: spec.phase,
  wantNext: false,
  ...over,
});

/**
 * Sends a result as the gRPC edge does (server.ts): the header checked, the task's node value
 * `grad` streamed as chunks and decoded into the expectation's vector, then submitted.
 */
function submit(d: Dispatcher, workerId: string, spec: TaskSpec, grad: ArrayLike<number>, over: Partial<ResultHeader> = {}) {
  const h = header(workerId, spec, over);
  const e = d.beginResult(h);
  if (e.kind === 'late') return { accepted: false, note: e.note };
  const asm = new TensorAssembler(e.layout, `result for task ${e.key}`, e.into?.parts);
  for (const c of encodeTensorChunks([Float32Array.from(grad)])) asm.add(c);
  asm.finish();
  return d.completeResult(h, e, h.wantNext);
}

async function taskOf(p: Promise<unknown>): Promise<TaskSpec> {
  const r = (await p) as { task?: TaskSpec };
  if (!r.task) throw new Error(`expected a task, got ${JSON.stringify(r)}`);
  return r.task;
}

const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

describe('Dispatcher', () => {
  it('holds a NextTask call while nothing is ready and answers it as soon as the next phase starts', async () => {
    const { d } = setup({ run: (a) => new FakeRun(2, 1, a) });
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
    const { d } = setup({ run: (a) => new FakeRun(1, 1, a) });
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

  it('groups a phase for the pool registered when it starts: one task for one worker, a tree node per worker for more', async () => {
    const alone = setup({ run: (a) => new FakeRun(1, 4, a), workers: 1 });
    const whole = await taskOf(alone.d.nextTask(alone.ids[0]!, 'job-1', 0, []));
    expect(whole).toMatchObject({ index: 0, node: { level: 2, index: 0 }, k: 4 });
    expect(whole.leaves.map((l) => [...l.indices])).toEqual([[0, 10], [1, 11], [2, 12], [3, 13]]);
    expect(await alone.d.nextTask(alone.ids[0]!, 'job-1', 0, [{ runId: 0, phase: 'train:0', index: 0 }])).toHaveProperty('retryAfterMs');

    const pair = setup({ run: (a) => new FakeRun(2, 4, a), workers: 2 });
    const [a, b] = pair.ids as [string, string];
    const halves = [await taskOf(pair.d.nextTask(a, 'job-1', 0, [])), await taskOf(pair.d.nextTask(b, 'job-1', 0, []))];
    expect(halves.map((t) => [t.node, t.leaves.map((l) => l.maskSeed)])).toEqual([
      [{ level: 1, index: 0 }, [0, 1]],
      [{ level: 1, index: 1 }, [2, 3]],
    ]);
    // Two more workers join: the next phase is grouped for four.
    const [c, e] = [pair.d.register(info).workerId, pair.d.register(info).workerId];
    submit(pair.d, a, halves[0]!, [0, 0, 0]);
    submit(pair.d, b, halves[1]!, [0, 0, 0]);
    const next = [];
    for (const w of [a, b, c, e]) next.push(await taskOf(pair.d.nextTask(w, 'job-1', 0, [])));
    expect(next.map((t) => `${t.phase} ${t.node.level}:${t.node.index}`)).toEqual(['train:1 0:0', 'train:1 0:1', 'train:1 0:2', 'train:1 0:3']);
  });

  it('adds the nodes of a step over the reduction tree in whatever order they arrive: the same bits for every grouping', async () => {
    // Leaf values where float32 addition is not associative: any other order of the additions changes the result.
    const leaf = (step: number, j: number) => [[2 ** 24, 1, 1, -(2 ** 24), 3][j]!, [1, 2 ** 24, -(2 ** 24), 1, 0.5][j]! * (step + 1), [1e-8, 1, 1e8, -1e8, 1][j]!];
    const local = Arena.fixed(1 << 16);
    const finals = new Map<number, string>();
    for (const workers of [1, 2, 3, 5]) {
      const { d, run, ids } = setup({ run: (a) => new FakeRun(2, 5, a), workers });
      const tasksPerStep: number[] = [];
      while (!run.done) {
        const held: { w: string; t: TaskSpec }[] = [];
        for (const w of ids) {
          const r = await d.nextTask(w, 'job-1', 0, held.filter((h) => h.w === w).map((h) => ({ runId: 0, phase: h.t.phase, index: h.t.index })));
          if ('task' in r) held.push({ w, t: r.task });
        }
        tasksPerStep.push(held.length);
        // Each worker adds its node's leaves over the tree (as worker/compute/thread.ts); the results arrive last first.
        for (const { w, t } of held.reverse()) {
          const node = await reduceNode(t.node, t.k, local, [3], (j, into) => into.parts[0]!.set(leaf(t.step, j)));
          expect(submit(d, w, t, node.parts[0]!).accepted).toBe(true);
          local.release(node);
        }
      }
      expect(tasksPerStep).toEqual([{ 1: 1, 2: 2, 3: 3, 5: 5 }[workers], { 1: 1, 2: 2, 3: 3, 5: 5 }[workers]]);
      finals.set(workers, bits(run.params[0]!));
    }
    expect(new Set(finals.values()).size).toBe(1);
    // The tree's order, ((l0 + l1) + (l2 + l3)) + l4, by definition; a running sum would differ.
    const f = Math.fround;
    const expected = Float32Array.from([1, 2, 3]);
    const running = Float32Array.from([1, 2, 3]);
    for (const step of [0, 1]) {
      const l = [0, 1, 2, 3, 4].map((j) => leaf(step, j));
      for (let i = 0; i < 3; i++) {
        expected[i] = f(expected[i]! + f(f(f(f(l[0]![i]!) + f(l[1]![i]!)) + f(f(l[2]![i]!) + f(l[3]![i]!))) + f(l[4]![i]!)));
        running[i] = f(running[i]! + l.reduce((a, v) => f(a + f(v[i]!)), 0));
      }
    }
    expect(finals.get(1)).toBe(bits(expected));
    expect(bits(running)).not.toBe(bits(expected));
  });

  it('hands back a task the worker no longer lists (a lost NextTask reply), and keeps the ones it lists', async () => {
    const { d, ids } = setup({ run: (a) => new FakeRun(1, 2, a), workers: 2 });
    const [a, b] = ids as [string, string];
    const first = await taskOf(d.nextTask(a, 'job-1', 0, []));
    expect(first.index).toBe(0);
    expect((await taskOf(d.nextTask(b, 'job-1', 0, []))).index).toBe(1);
    // a's reply was "lost": it asks again listing nothing, and gets task 0 back.
    const again = await taskOf(d.nextTask(a, 'job-1', 0, []));
    expect(again.index).toBe(0);
    // Listing it keeps it: nothing else is pending, so a waits.
    expect(await d.nextTask(a, 'job-1', 0, [{ runId: 0, phase: 'train:0', index: 0 }])).toHaveProperty('retryAfterMs');
    expect(submit(d, a, again, [1, 2, 3]).accepted).toBe(true);
  });

  it("expires a silent worker's lease on tick and gives its task to another worker", async () => {
    const { d, clock, registry } = setup({ run: (a) => new FakeRun(1, 1, a), leaseMs: 1000 });
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
    const { d, ids } = setup({ workers: 2 });
    const a = ids[0]!;
    const t0 = await taskOf(d.nextTask(a, 'job-1', 0, []));
    expect(t0.leaves).toHaveLength(2);
    expect(() => d.beginResult(header('w9-nobody', t0))).toThrow(UnknownWorkerError);
    expect(() => d.beginResult(header(a, t0, { jobId: 'job-2' }))).toThrow(WrongJobError);
    expect(() => d.beginResult(header(a, t0, { kind: TaskKind.EVAL }))).toThrow(/says kind EVAL, the task is train/);
    expect(() => d.beginResult(header(a, t0, { leaves: [leafResult(2)] }))).toThrow(MalformedResultError);
    expect(() => d.beginResult(header(a, t0, { leaves: [leafResult(2)] }))).toThrow(/reports 1 leaves; the task has 2/);
    expect(() => d.beginResult(header(a, t0, { leaves: [leafResult(2), leafResult(2), leafResult(2)] }))).toThrow(/reports 3 leaves; the task has 2/);
    expect(() => d.beginResult(header(a, t0, { leaves: [leafResult(2), leafResult(3)] }))).toThrow(/leaf 1 covers 3 samples; the task gave it 2/);
    expect(() => d.beginResult(header(a, t0, { paramVersion: 4 }))).toThrow(StaleResultError);
    expect(d.beginResult(header(a, t0, { phase: 'train:7' }))).toEqual({ kind: 'late', note: 'task 0/train:7/0 is not current (late or duplicate result ignored)' });
    const other = { ...t0, index: 1 };
    expect(() => submit(d, a, other, [0, 0, 0])).toThrow(TaskRejected);
  });

  it('passes every leaf’s figures to the run, in leaf order, with correct only where the worker has it', async () => {
    const { d, run, ids } = setup({ run: (a) => new FakeRun(1, 2, a), workers: 2 });
    const [a, b] = ids as [string, string];
    const [t0, t1] = [await taskOf(d.nextTask(a, 'job-1', 0, [])), await taskOf(d.nextTask(b, 'job-1', 0, []))];
    submit(d, b, t1!, [0, 0, 0], { leaves: [leafResult(2, { loss: 7, headLosses: [7, 0.5], headNormalizers: [2, 4], correct: 0, hasCorrect: false })] });
    submit(d, a, t0!, [0, 0, 0], { leaves: [leafResult(2, { loss: 3, headLosses: [3, 0.25], headNormalizers: [2, 4], correct: 1, hasCorrect: true })] });
    expect(run.leavesSeen).toEqual([
      [
        { count: 2, loss: 3, headLosses: [3, 0.25], headNormalizers: [2, 4], correct: 1 },
        { count: 2, loss: 7, headLosses: [7, 0.5], headNormalizers: [2, 4], correct: undefined },
      ],
    ]);
  });

  it('rejects a non-finite result once and believes the second one', async () => {
    const { d } = setup({ run: (a) => new FakeRun(1, 1, a) });
    const a = d.register(info).workerId;
    const b = d.register(info).workerId;
    const t0 = await taskOf(d.nextTask(a, 'job-1', 0, []));
    expect(() => submit(d, a, t0, [0, NaN, 0])).toThrow(/non-finite/);
    const retry = await taskOf(d.nextTask(b, 'job-1', 0, []));
    expect(submit(d, b, retry, [0, Infinity, 0])).toEqual({ accepted: true, note: '' });
  });

  it('treats a result as non-finite when a leaf reports a non-finite gradient or loss, or when its gradient holds one the worker did not report', async () => {
    const { d, run } = setup({ run: (a) => new FakeRun(3, 1, a) });
    const a = d.register(info).workerId;
    const b = d.register(info).workerId;
    const bad: [string, number[], Partial<ResultHeader>][] = [
      ['a leaf reports a NaN gradient value', [0, 0, 0], { leaves: [leafResult(2, { nonFinite: { param: 0, element: 1, value: NaN } })] }],
      ['a leaf reports a NaN loss', [0, 0, 0], { leaves: [leafResult(2, { loss: NaN })] }],
      ['the gradient holds an unreported −Inf', [0, 0, -Infinity], {}],
    ];
    for (const [what, grad, over] of bad) {
      const t = await taskOf(d.nextTask(a, 'job-1', 0, []));
      let err: unknown;
      try {
        submit(d, a, t, grad, over);
      } catch (e) {
        err = e;
      }
      expect(err, what).toBeInstanceOf(TaskRejected);
      expect((err as TaskRejected).code, what).toBe('invalid');
      // Another worker recomputes it; a finite result is accepted.
      const retry = await taskOf(d.nextTask(b, 'job-1', 0, []));
      expect(retry, what).toMatchObject({ phase: t.phase, index: t.index });
      expect(submit(d, b, retry, [1, 1, 1]), what).toEqual({ accepted: true, note: '' });
    }
    expect(Array.from(run.params[0]!)).toEqual([4, 5, 6]);
  });

  it('gives the worker its next task with the result’s reply when it asks for one and one is ready, not when it does not ask, never to a draining worker', async () => {
    const { d, registry, ids } = setup({ run: (a) => new FakeRun(3, 2, a), workers: 2 });
    const [a, b] = ids as [string, string];
    const [t0, t1] = [await taskOf(d.nextTask(a, 'job-1', 0, [])), await taskOf(d.nextTask(b, 'job-1', 0, []))];
    // Nothing is ready while b still computes the step's other half.
    expect(submit(d, a, t0!, [0, 0, 0], { wantNext: true })).toEqual({ accepted: true, note: '' });
    const r = submit(d, b, t1!, [0, 0, 0], { wantNext: true });
    expect(r).toMatchObject({ accepted: true, next: { phase: 'train:1', index: 0 } });
    // The task is b's now: a gets the other one, and b's result for it is accepted.
    const s1 = await taskOf(d.nextTask(a, 'job-1', 0, []));
    expect(s1).toMatchObject({ phase: 'train:1', index: 1 });
    expect(submit(d, a, s1, [0, 0, 0])).toEqual({ accepted: true, note: '' });
    // A draining worker that asks gets nothing, though the next phase's tasks are ready.
    registry.drain(b);
    expect(submit(d, b, (r as { next: TaskSpec }).next, [0, 0, 0], { wantNext: true })).toEqual({ accepted: true, note: '' });
    const u0 = await taskOf(d.nextTask(a, 'job-1', 0, []));
    expect(u0).toMatchObject({ phase: 'train:2', index: 0 });
    // Not asking: nothing comes back, though train:2's other task is ready; it is still there.
    expect(submit(d, a, u0, [0, 0, 0], { wantNext: false })).toEqual({ accepted: true, note: '' });
    expect(await d.nextTask(a, 'job-1', 0, [])).toMatchObject({ task: { phase: 'train:2', index: 1 } });
  });

  it('gives back every result vector no run took: broken-off streams, rejected, duplicate and late results leave the arena as large as it was', async () => {
    const { d, run, arena, ids } = setup({ run: (a) => new FakeRun(20, 2, a), workers: 2 });
    const [a, b] = ids as [string, string];
    let after: number | undefined;
    while (!run.done) {
      const t = await taskOf(d.nextTask(a, 'job-1', 0, []));
      const u = await taskOf(d.nextTask(b, 'job-1', 0, []));
      // A stream that breaks off after its header: the vector it was to be decoded into comes back.
      const broken = d.beginResult(header(a, t));
      expect(broken).toMatchObject({ kind: 'expected', into: expect.anything() });
      d.discard(broken);
      const again = d.beginResult(header(a, t));
      expect(again.kind === 'expected' && broken.kind === 'expected' && again.into!.ptr === broken.into!.ptr).toBe(true);
      d.discard(again);
      // Rejected (non-finite), accepted from another worker, then another result for the same node
      // (a duplicate): the first result wins, the second is not added.
      expect(() => submit(d, a, t, [NaN, 0, 0])).toThrow(TaskRejected);
      const retry = await taskOf(d.nextTask(b, 'job-1', 0, [{ runId: 0, phase: u.phase, index: u.index }]));
      expect(retry.index).toBe(t.index);
      expect(submit(d, b, retry, [1, 1, 1]).accepted).toBe(true);
      expect(submit(d, b, retry, [100, 100, 100])).toMatchObject({ accepted: false, note: expect.stringContaining('already has a result') });
      // Rejected (not the sender's task), accepted, then late (its phase is over).
      expect(() => submit(d, a, u, [0, 0, 0])).toThrow(/not assigned/);
      expect(submit(d, b, u, [1, 1, 1]).accepted).toBe(true);
      expect(submit(d, b, u, [100, 100, 100])).toMatchObject({ accepted: false, note: run.done ? expect.stringContaining('the job has ended') : expect.stringContaining('not current') });
      after ??= arena.used;
    }
    expect(arena.used).toBe(after);
    // Each step added exactly its two accepted nodes of 1s.
    expect(Array.from(run.params[0]!)).toEqual([41, 42, 43]);
  });

  it("serves a version's parameters as a snapshot, even after the run updated its arrays in place", async () => {
    const { d, run } = setup({ run: (a) => new FakeRun(2, 1, a) });
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

  it('holds a request for the next version’s parameters until the step that makes it completes', async () => {
    const { d, clock } = setup({ run: (a) => new FakeRun(3, 1, a) });
    const a = d.register(info).workerId;
    const layout = [{ name: 'w', role: 'parameter', length: 3 }];
    const decode = (chunks: Awaited<ReturnType<Dispatcher['paramsChunksWhenReady']>>) => {
      const asm = new TensorAssembler(layout, 'params');
      chunks.forEach((c) => asm.add(c));
      return Array.from(asm.finish()[0]!);
    };
    // The current version is answered at once.
    expect(decode(await d.paramsChunksWhenReady(a, 'job-1', 0, 0, 'none', 5000))).toEqual([1, 2, 3]);
    const t0 = await taskOf(d.nextTask(a, 'job-1', 0, []));
    let served = false;
    const v1 = d.paramsChunksWhenReady(a, 'job-1', 0, 1, 'none', 5000).then((c) => ((served = true), c));
    await new Promise((r) => setTimeout(r, 30));
    expect(served).toBe(false);
    const started = Date.now();
    submit(d, a, t0, [10, 10, 10]);
    expect(decode(await v1)).toEqual([11, 12, 13]);
    expect(Date.now() - started).toBeLessThan(1000);
    // Two versions ahead is not waited for; one ahead fails once the wait runs out.
    await expect(d.paramsChunksWhenReady(a, 'job-1', 0, 3, 'none', 5000)).rejects.toThrow(/version 3 is not there yet/);
    const timedOut = d.paramsChunksWhenReady(a, 'job-1', 0, 2, 'none', 50);
    clock.advance(100);
    await expect(timedOut).rejects.toThrow(ParamsVersionError);
  });

  it('ends the job with ok=false when a run throws while completing a phase', async () => {
    const { d, run } = setup({ run: (a) => new FakeRun(3, 1, a) });
    run.failAt = 1;
    const a = d.register(info).workerId;
    submit(d, a, await taskOf(d.nextTask(a, 'job-1', 0, [])), [1, 1, 1]);
    submit(d, a, await taskOf(d.nextTask(a, 'job-1', 0, [])), [1, 1, 1]);
    const end = await d.finished;
    expect(end).toEqual({ ok: false, reason: 'run 0 failed: optimizer exploded' });
    expect(await d.nextTask(a, 'job-1', 1000, [])).toEqual({ stop: end.reason });
  });

  it('hands a leaving worker\'s tasks back at once', async () => {
    const { d } = setup({ run: (a) => new FakeRun(1, 1, a) });
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
