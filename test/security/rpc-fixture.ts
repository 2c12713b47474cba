/**
 * An in-process coordinator for the RPC hardening tests: a real Dispatcher, Scheduler and worker
 * registry over a small two-tensor run, served by a real grpc-js server on loopback with the
 * coordinator's own server options (message size and stream limits from the job). Two honest
 * workers (a, b) are registered and each holds one task of the current step; `snapshot()` is the
 * run's observable state (parameters, arena, scheduler, the honest workers), to compare before
 * and after hostile input. `raw` is a client that sends arbitrary bytes as any method's messages.
 */
import { trainResultHeader } from '../helpers/result-header.js';
import { createHash } from 'node:crypto';
import { credentials, makeGenericClientConstructor, Metadata, Server, ServerCredentials, type Client, type ServiceError } from '@grpc/grpc-js';
import { pino } from 'pino';
import { Dispatcher, type ClusterRun } from '../../coordinator/dispatch/dispatcher.js';
import { coordinatorHandlers } from '../../coordinator/dispatch/server.js';
import { Scheduler } from '../../coordinator/dispatch/scheduler.js';
import { WorkerRegistry } from '../../coordinator/dispatch/worker-registry.js';
import { MAX_CONCURRENT_STREAMS, maxReceiveMessageBytes } from '../../coordinator/dispatch/result-limits.js';
import { CoordinatorClient, CoordinatorService } from '../../shared/cluster/service.js';
import { encodeTensorChunks } from '../../shared/cluster/tensor-stream.js';
import type { JobPackage } from '../../shared/cluster/job-wire.js';
import { taskKey, type PhaseSpec, type TaskResult, type TaskSpec } from '../../coordinator/run/task.js';
import { Arena } from '../../shared/kernels/index.js';
import { type ResultChunk, type ResultHeader, type SubmitReply } from '../../shared/proto/gen/cluster.js';

export const JOB_ID = 'job-sec';
/** Small chunks, so that a result is several chunks per tensor. */
export const CHUNK_BYTES = 256;
export const LENGTHS = [300, 20] as const;
/** The run starts at this step, so that versions are on the wire (0 is not written). */
export const FIRST_STEP = 3;

/** A run whose parameters move by each step's summed gradients (w ← w + Σ g), copied as results are accepted. */
export class TwoTensorRun implements ClusterRun {
  readonly id = 0;
  readonly name = 'sec';
  version = FIRST_STEP;
  readonly params = LENGTHS.map((n) => new Float32Array(n));
  readonly pieceSizes = [...LENGTHS];
  accepted = 0;
  private sums = LENGTHS.map((n) => new Float64Array(n));
  constructor(
    private readonly arena: Arena,
    private readonly steps = FIRST_STEP + 2,
  ) {}
  get done(): boolean {
    return this.version >= this.steps;
  }
  firstPhase(): PhaseSpec {
    return this.phase();
  }
  private phase(): PhaseSpec {
    return { runId: 0, name: `train:${this.version}`, kind: 'train', step: this.version, leaves: Array.from({ length: 4 }, (_, j) => ({ indices: Uint32Array.of(j, j + 4), maskSeed: j })) };
  }
  taskDone(_phase: string, _task: TaskSpec, result: TaskResult): void {
    this.accepted++;
    result.vector!.parts.forEach((p, t) => p.forEach((v, i) => (this.sums[t]![i]! += v)));
  }
  completePhase(): PhaseSpec | null {
    this.sums.forEach((s, t) => s.forEach((v, i) => (this.params[t]![i]! += v)));
    this.sums = LENGTHS.map((n) => new Float64Array(n));
    this.version++;
    return this.done ? null : this.phase();
  }
  currentParams() {
    return { version: this.version, params: this.params, buffers: [] };
  }
}

export const job = {
  metadata: {
    jobId: JOB_ID,
    name: 'sec',
    compression: 'none',
    threads: 1,
    chunkBytes: CHUNK_BYTES,
    microbatchesPerStep: 4,
    train: { params: [{ name: 'w', shape: [LENGTHS[0]], grad: 'grad:w', kind: 'weight' }, { name: 'b', shape: [LENGTHS[1]], grad: 'grad:b', kind: 'bias' }], buffers: [] },
    eval: {},
    dataset: { name: 'd', size: 8, featureShape: [1], numClasses: 2, targetWidth: 1, labels: 'int32' },
  },
  trainModel: new Uint8Array(64),
  evalModel: new Uint8Array(64),
} as unknown as JobPackage;

const info = { name: 'honest', device: 'cpu', deviceDetail: 'cpu', threads: 1, version: 'test' };

export function headerFor(workerId: string, t: TaskSpec, over: Partial<ResultHeader> = {}): ResultHeader {
  return trainResultHeader(workerId, JOB_ID, t, over);
}

/** A task's gradients: value v·(i+1)/1000 for worker-distinct v. */
export function gradientsFor(v: number): Float32Array[] {
  return LENGTHS.map((n) => Float32Array.from({ length: n }, (_, i) => (v * (i + 1)) / 1000));
}

export function resultMessages(h: ResultHeader, tensors: Float32Array[], version = h.paramVersion): ResultChunk[] {
  return [{ header: h }, ...encodeTensorChunks(tensors, { chunkBytes: CHUNK_BYTES, version }).map((tensor) => ({ tensor }))];
}

export type Outcome = { ok: true; reply: unknown } | { ok: false; code: number; details: string };

/** The methods of the Coordinator service with identity (de)serializers: messages are raw bytes. */
const rawDefinition = Object.fromEntries(
  Object.entries(CoordinatorService).map(([name, m]) => [
    name,
    { ...m, requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b },
  ]),
);
const RawClient = makeGenericClientConstructor(rawDefinition as never, 'raw');

export interface Fixture {
  d: Dispatcher;
  run: TwoTensorRun;
  arena: Arena;
  scheduler: Scheduler;
  registry: WorkerRegistry;
  address: string;
  client: CoordinatorClient;
  raw: Client;
  /** Honest workers, each holding one task of the current step. */
  a: { id: string; task: TaskSpec };
  b: { id: string; task: TaskSpec };
  /** Error lines the handlers logged (an INTERNAL status from our code is a bug). */
  errors: string[];
  snapshot(): string;
  close(): void;
}

export async function startFixture(o: { maxWaitMs?: number } = {}): Promise<Fixture> {
  const arena = Arena.growable();
  const errors: string[] = [];
  const log = pino({ level: 'error' }, { write: (line: string) => void errors.push(line) });
  const run = new TwoTensorRun(arena);
  const scheduler = new Scheduler();
  const registry = new WorkerRegistry({ leaseMs: 600_000 }, Date.now());
  const d = new Dispatcher({
    jobId: JOB_ID,
    arena,
    job,
    data: { features: new Float32Array(8), labels: new Int32Array(8) },
    runs: [run],
    scheduler,
    registry,
    heartbeatMs: 1000,
    maxWaitMs: o.maxWaitMs ?? 5,
    waitWarningMs: 600_000,
    now: () => Date.now(),
    log,
  });
  const ida = d.register(info).workerId;
  const idb = d.register(info).workerId;
  d.start();
  const take = async (id: string) => {
    const r = await d.nextTask(id, JOB_ID, 0, []);
    if (!('task' in r)) throw new Error(`no task for ${id}`);
    return r.task;
  };
  const a = { id: ida, task: await take(ida) };
  const b = { id: idb, task: await take(idb) };
  // Warm the arena: one result vector taken and given back, so that a leak shows as growth.
  const probe = d.beginResult(headerFor(a.id, a.task));
  d.discard(probe);

  const server = new Server({ 'grpc.max_receive_message_length': maxReceiveMessageBytes(CHUNK_BYTES), 'grpc.max_concurrent_streams': MAX_CONCURRENT_STREAMS });
  server.addService(CoordinatorService, coordinatorHandlers(d, log));
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const address = `127.0.0.1:${port}`;
  const client = new CoordinatorClient(address, credentials.createInsecure());
  const raw = new RawClient(address, credentials.createInsecure());
  const keys = [taskKey(a.task), taskKey(b.task)];
  const digest = (arrays: Float32Array[]) => {
    const h = createHash('sha256');
    for (const x of arrays) h.update(new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
    return h.digest('hex');
  };
  const snapshot = () => {
    // A result vector taken and given back: the arena grows only if an earlier one leaked.
    const e = d.beginResult(headerFor(a.id, a.task));
    d.discard(e);
    return JSON.stringify({
      params: digest(run.params),
      version: run.version,
      accepted: run.accepted,
      arenaUsed: arena.used,
      phase: d.activePhase(0),
      standing: keys.flatMap((k) => [a.id, b.id].map((w) => scheduler.standing(w, k))),
      moves: scheduler.taskMoves,
      tallies: [...scheduler.workerTallies],
      honest: [a.id, b.id].map((id) => registry.get(id)?.state ?? 'gone'),
      ended: d.ended ?? null,
    });
  };
  return {
    d,
    run,
    arena,
    scheduler,
    registry,
    address,
    client,
    raw,
    a,
    b,
    errors,
    snapshot,
    close: () => {
      client.close();
      raw.close();
      server.forceShutdown();
    },
  };
}

const deadline = () => ({ deadline: Date.now() + 5_000 });

function outcome(e: ServiceError | null, reply: unknown): Outcome {
  return e ? { ok: false, code: e.code, details: e.details } : { ok: true, reply };
}

/** One SubmitResult stream of typed messages. */
export function submit(client: CoordinatorClient, messages: readonly ResultChunk[]): Promise<Outcome> {
  return new Promise((resolve) => {
    const call = client.submitResult(new Metadata(), deadline(), (e, r) => resolve(outcome(e, r as SubmitReply)));
    call.on('error', () => {});
    for (const m of messages) call.write(m);
    call.end();
  });
}

/** One call of `method` with raw message bytes (several for a client stream). */
export function rawCall(raw: Client, method: keyof typeof CoordinatorService, messages: readonly Uint8Array[]): Promise<Outcome> {
  const def = CoordinatorService[method];
  const path = def.path;
  const ser = (b: Buffer) => b;
  const md = new Metadata();
  return new Promise((resolve) => {
    if (def.requestStream) {
      const call = raw.makeClientStreamRequest(path, ser, ser, md, deadline(), (e, r) => resolve(outcome(e, r)));
      call.on('error', () => {});
      for (const m of messages) call.write(Buffer.from(m));
      call.end();
    } else if (def.responseStream) {
      const call = raw.makeServerStreamRequest(path, ser, ser, Buffer.from(messages[0] ?? new Uint8Array(0)), md, deadline());
      let n = 0;
      call.on('data', () => n++);
      call.on('error', (e: ServiceError) => resolve(outcome(e, undefined)));
      call.on('end', () => resolve({ ok: true, reply: n }));
    } else {
      raw.makeUnaryRequest(path, ser, ser, Buffer.from(messages[0] ?? new Uint8Array(0)), md, deadline(), (e, r) => resolve(outcome(e, r)));
    }
  });
}
