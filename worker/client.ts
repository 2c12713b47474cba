/**
 * The worker's connection to the coordinator: one gRPC channel, a deadline on every call, and
 * retries by grpc-js itself (a retry policy in the channel's service config, retrying only
 * UNAVAILABLE, with exponential backoff). The channel reconnects on its own with backoff; calls
 * wait for it (waitForReady) until their deadline, so a coordinator that restarts is waited for
 * and a coordinator that is gone ends in DEADLINE_EXCEEDED / UNAVAILABLE, never in a hang.
 */
import { connectivityState as ConnectivityState, Metadata, status as Status, type CallOptions, type ChannelOptions, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import {
  type HeartbeatReply,
  type RegisterReply,
  type RegisterRequest,
  type ResultHeader,
  type SubmitReply,
  type TaskRef,
  type TaskReply,
  type JobChunk,
} from '../shared/proto/gen/cluster.js';
import { CoordinatorClient } from '../shared/cluster/service.js';
import { encodeTensorChunks, TensorAssembler, type ExpectedTensor } from '../shared/cluster/tensor-stream.js';
import type { CodecName } from '../shared/tensor/index.js';
import { JobMetadataError } from '../shared/cluster/errors.js';
import type { JobMetadata, JobPackage } from '../shared/cluster/job-wire.js';
import { channelCredentials, type TlsMaterial } from '../shared/security/tls.js';
import { bearerInterceptor } from '../shared/security/join-token.js';

export interface ClientTimeouts {
  /** Unary calls (Register, Heartbeat, Leave) and the slack added to long polls. */
  callMs: number;
  /** Streams: job, data, parameters, results. */
  streamMs: number;
}

export const DEFAULT_TIMEOUTS: ClientTimeouts = { callMs: 10_000, streamMs: 300_000 };

const SERVICE = 'gradfleet.v1.Coordinator';

/** The one place retries are configured: which codes, how many attempts, what backoff. */
export const RETRY_POLICY = {
  maxAttempts: 5,
  initialBackoff: '0.2s',
  maxBackoff: '5s',
  backoffMultiplier: 2,
  retryableStatusCodes: ['UNAVAILABLE'],
};

export function channelOptions(): ChannelOptions {
  return {
    'grpc.service_config': JSON.stringify({ methodConfig: [{ name: [{ service: SERVICE }], retryPolicy: RETRY_POLICY }] }),
    'grpc.enable_retries': 1,
    // Result streams are replayed on a retry only while they fit this buffer; bigger ones fail
    // and the worker's loop decides (the task is recomputed or handed back).
    'grpc.per_rpc_retry_buffer_size': 8 << 20,
    // The channel reconnects by itself; the cap bounds how long a restarted coordinator goes
    // unnoticed.
    'grpc.initial_reconnect_backoff_ms': 200,
    'grpc.max_reconnect_backoff_ms': 2_000,
    // Parameters arrive as megabytes per step: a 16 MiB receive window instead of HTTP/2's
    // 64 KiB default saves the window-update round trips.
    'grpc-node.flow_control_window': 16 << 20,
    'grpc.keepalive_time_ms': 15_000,
    'grpc.keepalive_timeout_ms': 10_000,
  };
}

/** Whether an error says the coordinator cannot be reached right now (as opposed to a rejection). */
export function isUnreachable(err: unknown): boolean {
  const code = (err as ServiceError | undefined)?.code;
  return code === Status.UNAVAILABLE || code === Status.DEADLINE_EXCEEDED;
}

export function statusName(err: unknown): string {
  const code = (err as ServiceError | undefined)?.code;
  return code === undefined ? 'error' : (Status[code] ?? String(code));
}

/** A SubmitResult call opened ahead of its result (CoordinatorConnection.openSubmit). */
export interface PendingSubmit {
  send(header: ResultHeader, tensors: readonly Float32Array[], codec: CodecName, chunkBytes: number): Promise<SubmitReply>;
  /** Gives the call up unused (the worker stops or registers again). */
  cancel(): void;
}

/** How a connection proves itself: TLS material (plaintext without it) and the join token. */
export interface ConnectionSecurity {
  tls?: TlsMaterial;
  /** Sent with every call as `authorization: Bearer <token>`. */
  token?: string;
}

export class CoordinatorConnection {
  private readonly client: CoordinatorClient;

  constructor(
    readonly address: string,
    private readonly timeouts: ClientTimeouts = DEFAULT_TIMEOUTS,
    security: ConnectionSecurity = {},
  ) {
    this.client = new CoordinatorClient(address, channelCredentials(security.tls), { ...channelOptions(), ...(security.token ? { interceptors: [bearerInterceptor(security.token)] } : {}) });
  }

  private options(ms: number): Partial<CallOptions> {
    return { deadline: Date.now() + ms };
  }

  /** Calls wait for the channel to (re)connect, up to their deadline, instead of failing at once. */
  private waiting(): Metadata {
    return new Metadata({ waitForReady: true });
  }

  register(req: RegisterRequest): Promise<RegisterReply> {
    return new Promise((resolve, reject) => this.client.register(req, this.waiting(), this.options(this.timeouts.callMs), (e, r) => (e ? reject(e) : resolve(r))));
  }

  heartbeat(workerId: string, jobId: string): Promise<HeartbeatReply> {
    return new Promise((resolve, reject) => this.client.heartbeat({ workerId, jobId }, this.waiting(), this.options(this.timeouts.callMs), (e, r) => (e ? reject(e) : resolve(r))));
  }

  /** Says goodbye; does not wait for a coordinator that is not there (no waitForReady). */
  leave(workerId: string, reason: string): Promise<void> {
    return new Promise((resolve, reject) =>
      this.client.leave({ workerId, reason }, new Metadata(), { deadline: Date.now() + this.timeouts.callMs }, (e) => (e ? reject(e) : resolve())),
    );
  }

  /** Long poll: the coordinator holds the call up to `waitMs`; the deadline allows for that. `abort` cancels it. */
  nextTask(workerId: string, jobId: string, waitMs: number, holding: TaskRef[], abort?: AbortSignal): Promise<TaskReply> {
    return new Promise((resolve, reject) => {
      const call = this.client.nextTask({ workerId, jobId, waitMs, holding }, this.waiting(), this.options(waitMs + this.timeouts.callMs), (e, r) => {
        abort?.removeEventListener('abort', cancel);
        if (e) reject(e);
        else resolve(r);
      });
      const cancel = () => call.cancel();
      if (abort?.aborted) cancel();
      else abort?.addEventListener('abort', cancel, { once: true });
    });
  }

  /** The job: metadata and both graphs' bytes, checked for completeness. */
  async getJob(workerId: string, jobId: string): Promise<JobPackage> {
    const chunks = await collect<JobChunk>(this.client.getJob({ workerId, jobId }, this.waiting(), this.options(this.timeouts.streamMs)));
    const first = chunks[0];
    if (!first?.metadataJson) throw new JobMetadataError('the job stream did not start with its metadata');
    const metadata = JSON.parse(first.metadataJson) as JobMetadata;
    const graphs: Record<string, { total: number; parts: Buffer[]; got: number }> = {};
    for (const c of chunks.slice(1)) {
      const g = (graphs[c.graph] ??= { total: c.total, parts: [], got: 0 });
      if (c.offset !== g.got) throw new JobMetadataError(`${c.graph} graph: chunk at offset ${c.offset}, expected ${g.got}`);
      g.parts.push(c.data);
      g.got += c.data.length;
    }
    const bytes = (name: string): Uint8Array => {
      const g = graphs[name];
      if (!g) throw new JobMetadataError(`the job carries no ${name} graph`);
      if (g.got !== g.total) throw new JobMetadataError(`${name} graph: received ${g.got} of ${g.total} bytes`);
      return Buffer.concat(g.parts);
    };
    return { metadata, trainModel: bytes('train'), evalModel: bytes('eval'), ...(metadata.attack ? { attackModel: bytes('attack') } : {}) };
  }

  /** One part of the dataset ('features' or 'labels') as raw 4-byte values. */
  async getData(workerId: string, jobId: string, part: 'features' | 'labels', length: number): Promise<Float32Array> {
    const assembler = new TensorAssembler([{ name: part, role: 'dataset', length }], `dataset ${part}`);
    await forEachChunk(this.client.getData({ workerId, jobId, part }, this.waiting(), this.options(this.timeouts.streamMs)), (c) => assembler.add(c));
    return assembler.finish()[0]!;
  }

  /**
   * A run's parameters and buffers at a version, decoded into `into` (exact lengths). With
   * `waitMs`, the coordinator may hold the call that long for a version one step ahead.
   */
  async getParams(workerId: string, jobId: string, runId: number, version: number, codec: CodecName, layout: ExpectedTensor[], into: Float32Array[], waitMs = 0): Promise<void> {
    const assembler = new TensorAssembler(layout, `parameters of run ${runId} at version ${version}`, into);
    await forEachChunk(this.client.getParams({ workerId, jobId, runId, version, codec, waitMs }, this.waiting(), this.options(waitMs + this.timeouts.streamMs)), (c) => assembler.add(c));
    assembler.finish();
  }

  /** A result: the header, then the tensors in chunks (waiting for the transport when it is full). */
  submitResult(header: ResultHeader, tensors: readonly Float32Array[], codec: CodecName, chunkBytes: number): Promise<SubmitReply> {
    return this.openSubmit().send(header, tensors, codec, chunkBytes);
  }

  /**
   * A SubmitResult call opened before its result exists: the call's setup (a round trip of
   * HTTP/2 headers) then overlaps the task's computation instead of delaying the upload. send()
   * writes the result and resolves with the reply; a call that failed while it waited rejects.
   */
  openSubmit(): PendingSubmit {
    let settle!: { resolve: (r: SubmitReply) => void; reject: (e: unknown) => void };
    const reply = new Promise<SubmitReply>((resolve, reject) => (settle = { resolve, reject }));
    reply.catch(() => {});
    const call = this.client.submitResult(this.waiting(), this.options(this.timeouts.streamMs), (e, r) => (e ? settle.reject(e) : settle.resolve(r)));
    // An early answer (rejection) ends the call; writes after it are dropped by grpc-js.
    call.on('error', () => {});
    return {
      send: (header, tensors, codec, chunkBytes) => {
        // The result's arrays are not changed until the reply: the chunks borrow them and the
        // serializer copies each once, into its message.
        const chunks = tensors.length > 0 ? encodeTensorChunks(tensors, { codec, chunkBytes, version: header.paramVersion, borrow: true }) : [];
        const messages = [{ header }, ...chunks.map((tensor) => ({ tensor }))];
        let i = 0;
        const pump = () => {
          while (i < messages.length) if (!call.write(messages[i++]!)) return void call.once('drain', pump);
          call.end();
        };
        pump();
        return reply;
      },
      cancel: () => call.cancel(),
    };
  }

  /**
   * Calls `listener` with every change of the channel's connectivity state (READY, CONNECTING,
   * TRANSIENT_FAILURE while it reconnects with backoff…) until the connection is closed.
   */
  watchConnectivity(listener: (state: ConnectivityState) => void): void {
    const channel = this.client.getChannel();
    const arm = (current: ConnectivityState) => {
      if (current === ConnectivityState.SHUTDOWN) return;
      channel.watchConnectivityState(current, Infinity, () => {
        const next = channel.getConnectivityState(false);
        listener(next);
        arm(next);
      });
    };
    arm(channel.getConnectivityState(false));
  }

  close(): void {
    this.client.close();
  }
}

function forEachChunk<T>(stream: ClientReadableStream<T>, each: (c: T) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.on('data', (c: T) => {
      try {
        each(c);
      } catch (e) {
        stream.cancel();
        reject(e);
      }
    });
    stream.on('error', reject);
    stream.on('end', resolve);
  });
}

function collect<T>(stream: ClientReadableStream<T>): Promise<T[]> {
  const out: T[] = [];
  return forEachChunk(stream, (c) => out.push(c)).then(() => out);
}
