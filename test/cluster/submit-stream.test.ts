/**
 * SubmitResult over a real gRPC connection (in process): a training result's tensors are decoded
 * into a vector of the runs' arena as soon as its header is accepted, so every way a stream can
 * end must give that vector back — a stream the client cancels after its header included (a
 * worker killed or a connection lost mid-upload), or each such upload would keep a gradient-sized
 * vector for good.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { trainResultHeader } from '../helpers/result-header.js';
import { credentials, Server, ServerCredentials, status as Status, type ServiceError } from '@grpc/grpc-js';
import { pino } from 'pino';
import { Dispatcher, type ClusterRun } from '../../coordinator/dispatch/dispatcher.js';
import { coordinatorHandlers } from '../../coordinator/dispatch/server.js';
import { Scheduler } from '../../coordinator/dispatch/scheduler.js';
import { WorkerRegistry } from '../../coordinator/dispatch/worker-registry.js';
import { CoordinatorClient, CoordinatorService } from '../../shared/cluster/service.js';
import { encodeTensorChunks } from '../../shared/cluster/tensor-stream.js';
import type { JobPackage } from '../../shared/cluster/job-wire.js';
import type { PhaseSpec, TaskSpec } from '../../coordinator/run/task.js';
import { Arena } from '../../shared/kernels/index.js';
import { type ResultChunk, type ResultHeader, type SubmitReply } from '../../shared/proto/gen/cluster.js';

/** A run of one step of one micro-batch that never completes it (the tests only upload). */
class OneStep implements ClusterRun {
  readonly id = 0;
  readonly name = 'one';
  readonly done = false;
  readonly pieceSizes = [1000];
  firstPhase(): PhaseSpec {
    return { runId: 0, name: 'train:0', kind: 'train', step: 0, leaves: [{ indices: Uint32Array.of(0, 1), maskSeed: 0 }] };
  }
  taskDone(): void {}
  completePhase(): PhaseSpec | null {
    return null;
  }
  currentParams() {
    return { version: 0, params: [new Float32Array(1000)], buffers: [] };
  }
}

const job = {
  metadata: { jobId: 'job-1', name: 'one', compression: 'none', threads: 1, chunkBytes: 1024, microbatchesPerStep: 1, train: { params: [{ name: 'w', shape: [1000], grad: 'grad:w', kind: 'weight' }], buffers: [] }, eval: {}, dataset: {} },
  trainModel: new Uint8Array(1),
  evalModel: new Uint8Array(1),
} as unknown as JobPackage;

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

async function serve() {
  const arena = Arena.growable();
  const log = pino({ level: 'silent' });
  const d = new Dispatcher({
    jobId: 'job-1',
    arena,
    job,
    data: { features: new Float32Array(2), labels: new Int32Array(2) },
    runs: [new OneStep()],
    scheduler: new Scheduler(),
    registry: new WorkerRegistry({ leaseMs: 60_000, idPrefix: 't' }, 0),
    heartbeatMs: 1000,
    maxWaitMs: 1000,
    waitWarningMs: 60_000,
    now: () => Date.now(),
    log,
  });
  const workerId = d.register({ name: 't', device: 'cpu', deviceDetail: 'cpu', threads: 1, version: 'test' }).workerId;
  d.start();
  const r = await d.nextTask(workerId, 'job-1', 0, []);
  if (!('task' in r)) throw new Error('no task');
  const server = new Server();
  server.addService(CoordinatorService, coordinatorHandlers(d, log));
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const client = new CoordinatorClient(`127.0.0.1:${port}`, credentials.createInsecure());
  cleanup.push(() => {
    client.close();
    server.forceShutdown();
  });
  return { d, arena, client, workerId, task: r.task };
}

const header = (workerId: string, t: TaskSpec): ResultHeader => trainResultHeader(workerId, 'job-1', t);

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('SubmitResult over gRPC', () => {
  it('gives the vector a result was being decoded into back to the arena when the client cancels the upload after its header', async () => {
    const { d, arena, client, workerId, task } = await serve();
    const before = arena.used;
    let outcome: ServiceError | SubmitReply | undefined;
    const call = client.submitResult((e, r) => (outcome = e ?? r));
    call.on('error', () => {});
    call.write({ header: header(workerId, task) } satisfies ResultChunk);
    // The header was taken: a vector of the arena now waits for the tensors.
    await until('the header to be accepted', () => arena.used > before);
    const withVector = arena.used;
    call.write({ tensor: encodeTensorChunks([new Float32Array(1000)], { chunkBytes: 1024 })[0]! } satisfies ResultChunk);
    call.cancel();
    await until('the client to see the call end', () => outcome !== undefined);
    expect((outcome as ServiceError).code).toBe(Status.CANCELLED);
    // Once the server saw the cancellation, the vector is free again: the next result gets it.
    let reused = false;
    await until('the vector to come back to the arena', () => {
      const e = d.beginResult(header(workerId, task));
      reused = arena.used === withVector;
      d.discard(e);
      return reused;
      // The server sees the cancellation on its own schedule: seconds on a loaded 2-core machine.
    }, 10_000).catch(() => {});
    expect(reused, 'a cancelled upload kept its vector').toBe(true);
  });

  it('gives the vector back when the stream ends with tensors missing, and rejects the result', async () => {
    const { d, arena, client, workerId, task } = await serve();
    const before = arena.used;
    const reply = new Promise<ServiceError | SubmitReply>((resolve) => {
      const call = client.submitResult((e, r) => resolve(e ?? r!));
      call.write({ header: header(workerId, task) } satisfies ResultChunk);
      call.end();
    });
    const outcome = (await reply) as ServiceError;
    expect(outcome.code).toBe(Status.INVALID_ARGUMENT);
    expect(outcome.details).toContain('carries no tensors');
    const withVector = arena.used;
    expect(withVector).toBeGreaterThan(before);
    const e = d.beginResult(header(workerId, task));
    expect(arena.used).toBe(withVector);
    d.discard(e);
  });
});
