/**
 * A rogue client (a raw grpc-js client, no worker code) registers, takes a task (the whole first
 * step: it is grouped while no worker is registered) and sends bad results; every one is rejected with a status code and a message that says why. It then goes
 * silent holding a task: its lease expires, the task goes to the real workers, and the run ends
 * with bit-identical parameters to an undisturbed run of the same job.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials, makeClientConstructor, Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { CoordinatorClient, TaskKind, type ResultChunk, type ResultHeader, type SubmitReply, type Task, type TaskReply, type TaskRequest } from '../../shared/proto/gen/cluster.js';
import { encodeTensorChunks } from '../../shared/cluster/tensor-stream.js';
import type { JobMetadata } from '../../shared/cluster/job-wire.js';
import { readFinalParams, runCluster, startCluster, tinyJob, type ClusterHandle } from './harness.js';

const job = tinyJob({ name: 'rogue', workers: { heartbeat: '300ms', lease: '1500ms', wait_warning: '400ms' } } as never);

type Unary<Req, Res> = (req: Req, md: Metadata, opts: { deadline: number }, cb: (e: ServiceError | null, r: Res) => void) => unknown;
function call<Req, Res>(client: CoordinatorClient, fn: Unary<Req, Res>, req: Req): Promise<Res> {
  return new Promise((resolve, reject) => fn.call(client, req, new Metadata(), { deadline: Date.now() + 5000 }, (e, r) => (e ? reject(e) : resolve(r))));
}

function submit(client: CoordinatorClient, messages: ResultChunk[]): Promise<SubmitReply> {
  return new Promise((resolve, reject) => {
    const stream = client.submitResult({ deadline: Date.now() + 5000 }, (e, r) => (e ? reject(e) : resolve(r)));
    stream.on('error', () => {});
    for (const m of messages) stream.write(m);
    stream.end();
  });
}

async function rejection(p: Promise<unknown>): Promise<{ code: Status; details: string }> {
  try {
    await p;
  } catch (e) {
    return { code: (e as ServiceError).code, details: (e as ServiceError).details };
  }
  throw new Error('the call was expected to fail, and succeeded');
}

async function waitFor(what: string, ok: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a rogue client against a running job', () => {
  let undisturbedSha = '';
  let cluster: ClusterHandle;
  let rogue: CoordinatorClient;
  let workerId = '';
  let jobId = '';
  let meta: JobMetadata;
  let task: Task;

  const header = (over: Partial<ResultHeader> = {}): ResultHeader => ({
    workerId,
    jobId,
    runId: task.runId,
    step: task.step,
    microbatch: task.microbatch,
    kind: TaskKind.TRAIN,
    paramVersion: task.paramVersion,
    leaves: task.leafSizes.map((count) => ({ count, loss: 1, headLosses: [1], headNormalizers: [], correct: 0, hasCorrect: true, attacks: [] })),
    computeMs: 1,
    codec: 'none',
    phase: task.phase,
    wantNext: false,
    ...over,
  });
  const gradients = (fill: (name: string, i: number) => number = () => 0.001, lengthDelta: Record<string, number> = {}) =>
    meta.train.params.map((p) => {
      const n = p.shape.reduce((a, d) => a * d, 1) + (lengthDelta[p.name] ?? 0);
      return Float32Array.from({ length: n }, (_, i) => fill(p.name, i));
    });
  const result = (h: ResultHeader, tensors: Float32Array[]): ResultChunk[] => [{ header: h }, ...encodeTensorChunks(tensors).map((tensor) => ({ tensor }))];

  beforeAll(async () => {
    const undisturbed = await runCluster({ job, workers: 2 });
    expect(undisturbed.exitCode, undisturbed.coordinator.stderr).toBe(0);
    undisturbedSha = readFinalParams(undisturbed.runDir)[0]!.sha256;

    cluster = await startCluster({ job, workers: 0 });
    rogue = new CoordinatorClient(cluster.address, credentials.createInsecure());
  });

  afterAll(() => {
    rogue?.close();
    cluster?.kill();
  });

  it('serves gRPC health as SERVING while the job runs, and says when it waits for workers', async () => {
    const Health = makeClientConstructor(healthService as never, 'grpc.health.v1.Health');
    const health = new Health(cluster.address, credentials.createInsecure()) as unknown as {
      check(req: { service: string }, md: Metadata, opts: { deadline: number }, cb: (e: ServiceError | null, r: { status: string }) => void): void;
      close(): void;
    };
    const status = await new Promise<string>((resolve, reject) => health.check({ service: 'gradfleet.v1.Coordinator' }, new Metadata(), { deadline: Date.now() + 5000 }, (e, r) => (e ? reject(e) : resolve(r.status))));
    health.close();
    expect(status).toBe('SERVING');
    await waitFor("the coordinator's 'waiting for workers' line", () => cluster.output().includes('waiting for workers'), 5000);
  });

  it('registers, receives the job and a task', async () => {
    const reg = await call(rogue, rogue.register, { name: 'rogue', device: 'cpu', threads: 1, version: 'rogue', deviceDetail: 'none' });
    workerId = reg.workerId;
    jobId = reg.jobId;
    meta = await new Promise<JobMetadata>((resolve, reject) => {
      const s = rogue.getJob({ workerId, jobId }, { deadline: Date.now() + 5000 });
      s.once('data', (c: { metadataJson: string }) => {
        resolve(JSON.parse(c.metadataJson) as JobMetadata);
        s.cancel();
      });
      s.on('error', (e: ServiceError) => e.code !== Status.CANCELLED && reject(e));
    });
    expect(meta.train.params.map((p) => p.name)).toEqual(['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']);
    const reply = await call<TaskRequest, TaskReply>(rogue, rogue.nextTask, { workerId, jobId, waitMs: 2000, holding: [] });
    expect(reply.task).toBeDefined();
    task = reply.task!;
    expect(task).toMatchObject({ kind: TaskKind.TRAIN, phase: 'train:0', microbatch: 0, paramVersion: 0 });
  });

  it('rejects calls from an unknown worker with NOT_FOUND and a wrong job id with FAILED_PRECONDITION', async () => {
    const unknown = await rejection(call(rogue, rogue.nextTask, { workerId: 'w999-nobody', jobId, waitMs: 0, holding: [] }));
    expect(unknown.code).toBe(Status.NOT_FOUND);
    expect(unknown.details).toContain("worker 'w999-nobody' is not registered");
    const unknownSubmit = await rejection(submit(rogue, result(header({ workerId: 'w999-nobody' }), gradients())));
    expect(unknownSubmit.code).toBe(Status.NOT_FOUND);

    const wrongJob = await rejection(submit(rogue, result(header({ jobId: 'some-other-job' }), gradients())));
    expect(wrongJob.code).toBe(Status.FAILED_PRECONDITION);
    expect(wrongJob.details).toContain("job 'some-other-job' is not the job this coordinator runs");
  });

  it('rejects gradients of the wrong length, the wrong number of tensors and malformed chunks with INVALID_ARGUMENT naming the parameter and sizes', async () => {
    const short = await rejection(submit(rogue, result(header(), gradients(undefined, { 'fc1.bias': -1 }))));
    expect(short.code).toBe(Status.INVALID_ARGUMENT);
    expect(short.details).toContain("gradient of parameter 'fc1.bias' (tensor 1) has 31 values, expected 32");

    const long = await rejection(submit(rogue, result(header(), gradients(undefined, { 'fc2.weight': 5 }))));
    expect(long.code).toBe(Status.INVALID_ARGUMENT);
    expect(long.details).toContain("gradient of parameter 'fc2.weight' (tensor 2) has at least 325 values, expected 320");

    const three = await rejection(submit(rogue, result(header(), gradients().slice(0, 3))));
    expect(three.code).toBe(Status.INVALID_ARGUMENT);
    expect(three.details).toContain('carries 3 tensors, expected 4 (4 × gradient of parameter)');

    const chunks = result(header(), gradients());
    const bad = chunks[2]!.tensor!; // fc1.bias: 32 values
    chunks[2] = { tensor: { ...bad, data: bad.data.subarray(0, 127) } };
    const malformed = await rejection(submit(rogue, chunks));
    expect(malformed.code).toBe(Status.INVALID_ARGUMENT);
    expect(malformed.details).toMatch(/gradient of parameter 'fc1\.bias' \(tensor 1\).*needs 128 bytes, got 127/);

    const noHeader = await rejection(submit(rogue, result(header(), gradients()).slice(1)));
    expect(noHeader.code).toBe(Status.INVALID_ARGUMENT);
    expect(noHeader.details).toContain('must start with its header');
  });

  it('rejects a header whose leaves do not match the task’s with INVALID_ARGUMENT naming the leaf', async () => {
    expect(task.leafSizes.length).toBeGreaterThan(1);
    expect(task.leafSizes.reduce((a, n) => a + n, 0)).toBe(task.sampleIndices.length / 4);
    const h = header();
    const missing = await rejection(submit(rogue, result({ ...h, leaves: h.leaves.slice(1) }, gradients())));
    expect(missing.code).toBe(Status.INVALID_ARGUMENT);
    expect(missing.details).toContain(`reports ${task.leafSizes.length - 1} leaves; the task has ${task.leafSizes.length}`);
    const miscounted = await rejection(submit(rogue, result({ ...h, leaves: h.leaves.map((l, j) => (j === 1 ? { ...l, count: l.count + 1 } : l)) }, gradients())));
    expect(miscounted.code).toBe(Status.INVALID_ARGUMENT);
    expect(miscounted.details).toContain(`leaf 1 covers ${task.leafSizes[1]! + 1} samples; the task gave it ${task.leafSizes[1]}`);
  });

  it('rejects a result computed on other parameters than the task needs with FAILED_PRECONDITION', async () => {
    const stale = await rejection(submit(rogue, result(header({ paramVersion: 5, step: 5 }), gradients())));
    expect(stale.code).toBe(Status.FAILED_PRECONDITION);
    expect(stale.details).toContain('computed on parameters version 5; the task needs version 0');
  });

  it('rejects non-finite gradients once, and a result for a task it does not hold with FAILED_PRECONDITION', async () => {
    const nan = await rejection(submit(rogue, result(header(), gradients((name, i) => (name === 'fc2.bias' && i === 3 ? NaN : 0.001)))));
    expect(nan.code).toBe(Status.INVALID_ARGUMENT);
    expect(nan.details).toContain('non-finite');
    // The rejection handed the task back: the rogue no longer holds it.
    const notHeld = await rejection(submit(rogue, result(header(), gradients())));
    expect(notHeld.code).toBe(Status.FAILED_PRECONDITION);
    expect(notHeld.details).toContain(`is not assigned to worker ${workerId}`);
  });

  it('answers a late result (a phase that is not current) with OK and accepted=false', async () => {
    const late = await submit(rogue, result(header({ phase: 'train:999' }), gradients()));
    expect(late).toEqual({ accepted: false, note: expect.stringContaining('not current') });
  });

  it('finishes the job after the rogue goes silent holding a task, with the parameters of an undisturbed run', async () => {
    // The rogue takes a task again, then never calls back: only its lease expiring frees the task.
    const again = await call<TaskRequest, TaskReply>(rogue, rogue.nextTask, { workerId, jobId, waitMs: 2000, holding: [] });
    expect(again.task).toBeDefined();
    cluster.addWorker();
    cluster.addWorker();
    const r = await cluster.wait(45_000);
    expect(r.exitCode, cluster.output()).toBe(0);
    expect(r.coordinator.stderr).toContain('worker lease expired');
    expect(readFinalParams(r.runDir)[0]!.sha256).toBe(undisturbedSha);
  });
});
