/**
 * The gRPC edge of the coordinator: turns wire messages into Dispatcher calls and back, and maps
 * typed errors to gRPC status codes (here and nowhere else). Every handler answers exactly once
 * and returns right after answering.
 */
import { status as Status, type sendUnaryData, type ServerWritableStream, type ServerReadableStream, type ServerUnaryCall } from '@grpc/grpc-js';
import type { Logger } from '../../shared/log.js';
import {
  TaskKind,
  type CoordinatorServer,
  type DataRequest,
  type HeartbeatRequest,
  type JobRequest,
  type LeaveRequest,
  type ParamsRequest,
  type RegisterRequest,
  type JobChunk,
  type ResultChunk,
  type ResultHeader,
  type SubmitReply,
  type Task,
  type TaskReply,
  type TaskRequest,
  type TensorChunk,
} from '../../shared/proto/gen/cluster.js';
import { indicesToBytes, TensorAssembler } from '../../shared/cluster/tensor-stream.js';
import { isCodecName } from '../../shared/tensor/index.js';
import { TensorStreamError } from '../../shared/cluster/errors.js';
import { TaskRejected } from './scheduler.js';
import { ResultStreamGuard } from './result-limits.js';
import type { TaskSpec } from '../run/task.js';
import type { Dispatcher, ResultExpectation } from './dispatcher.js';
import { BadRequestError, DataNotStreamedError, LimitExceededError, MalformedResultError, ParamsVersionError, StaleResultError, UnknownRunError, UnknownWorkerError, WrongJobError } from '../errors.js';

export interface GrpcStatus {
  code: Status;
  details: string;
}

/** The gRPC status for an error thrown by the service logic. Unknown errors are INTERNAL. */
export function statusFor(err: unknown): GrpcStatus {
  const details = err instanceof Error ? err.message : String(err);
  if (err instanceof UnknownWorkerError || err instanceof UnknownRunError) return { code: Status.NOT_FOUND, details };
  if (err instanceof WrongJobError || err instanceof ParamsVersionError || err instanceof StaleResultError || err instanceof DataNotStreamedError) return { code: Status.FAILED_PRECONDITION, details };
  if (err instanceof MalformedResultError || err instanceof TensorStreamError || err instanceof BadRequestError) return { code: Status.INVALID_ARGUMENT, details };
  if (err instanceof LimitExceededError) return { code: Status.RESOURCE_EXHAUSTED, details };
  if (err instanceof TaskRejected) return { code: err.code === 'invalid' ? Status.INVALID_ARGUMENT : Status.FAILED_PRECONDITION, details };
  return { code: Status.INTERNAL, details: `internal error: ${details}` };
}

/** The wire form of a task. */
export function taskMessage(jobId: string, spec: TaskSpec): Task {
  return {
    jobId,
    runId: spec.runId,
    // The run's step counter is the parameter version; tasks carry it in both fields.
    step: spec.step,
    microbatch: spec.index,
    kind: spec.kind === 'train' ? TaskKind.TRAIN : TaskKind.EVAL,
    paramVersion: spec.step,
    sampleIndices: indicesToBytes(concatIndices(spec.leaves.map((l) => l.indices))),
    attempt: 0,
    evalSplit: spec.split ?? '',
    phase: spec.phase,
    nodeLevel: spec.node.level,
    nodeIndex: spec.node.index,
    stepMicrobatches: spec.k,
    leafSizes: spec.leaves.map((l) => l.indices.length),
    maskSeeds: spec.leaves.map((l) => l.maskSeed),
    ...(spec.dropout !== undefined ? { dropout: spec.dropout } : {}),
    ...(spec.augmentSeed !== undefined ? { augmentSeed: spec.augmentSeed } : {}),
  };
}

function concatIndices(parts: readonly Uint32Array[]): Uint32Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Handlers of the Coordinator service over a Dispatcher. */
export function coordinatorHandlers(d: Dispatcher, log: Logger): CoordinatorServer {
  /** Logs INTERNAL errors (a bug or a crashed run), not a client's mistakes. */
  const failed = (method: string, err: unknown): GrpcStatus => {
    const s = statusFor(err);
    if (s.code === Status.INTERNAL) log.error({ err, method }, 'handler failed');
    else log.debug({ method, code: Status[s.code], details: s.details }, 'request rejected');
    return s;
  };

  function unary<Req, Res>(method: string, handle: (req: Req, call: ServerUnaryCall<Req, Res>) => Res | Promise<Res>) {
    return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
      Promise.resolve()
        .then(() => handle(call.request, call))
        .then(
          (reply) => callback(null, reply),
          (err: unknown) => callback(failed(method, err)),
        );
    };
  }

  function stream<Req>(method: string, produce: (req: Req, abort: AbortSignal) => TensorChunk[] | JobChunk[] | Promise<TensorChunk[]>) {
    return (call: ServerWritableStream<Req, TensorChunk | JobChunk>): void => {
      const abort = new AbortController();
      call.once('cancelled', () => abort.abort());
      Promise.resolve()
        .then(() => produce(call.request, abort.signal))
        .then(
          (chunks) =>
            writeAll(call, chunks).then(
              () => call.end(),
              (err: unknown) => {
                if (!call.cancelled) call.emit('error', failed(method, err));
              },
            ),
          (err: unknown) => {
            if (!call.cancelled) call.emit('error', failed(method, err));
          },
        );
    };
  }

  return {
    register: unary('Register', (req: RegisterRequest) =>
      d.register({ name: req.name, device: req.device, deviceDetail: req.deviceDetail, threads: req.threads, version: req.version }),
    ),

    getJob: stream('GetJob', (req: JobRequest) => {
      // Registration state is checked like every other call: a job goes only to registered workers.
      d.admit(req.workerId, req.jobId);
      return jobChunks(d);
    }),

    getData: stream('GetData', (req: DataRequest) => d.dataChunks(req.workerId, req.jobId, req.part)),

    getParams: stream('GetParams', (req: ParamsRequest, abort) => {
      const codec = req.codec || 'none';
      if (!isCodecName(codec)) throw new BadRequestError(`unknown codec '${codec}'`);
      if (req.waitMs > 0) return d.paramsChunksWhenReady(req.workerId, req.jobId, req.runId, req.version, codec, req.waitMs, abort);
      return d.paramsChunks(req.workerId, req.jobId, req.runId, req.version, codec);
    }),

    nextTask: unary('NextTask', async (req: TaskRequest, call: ServerUnaryCall<TaskRequest, TaskReply>): Promise<TaskReply> => {
      const abort = new AbortController();
      call.once('cancelled', () => abort.abort());
      const holding = req.holding.map((t) => ({ runId: t.runId, phase: t.phase, index: t.microbatch }));
      const r = await d.nextTask(req.workerId, req.jobId, req.waitMs, holding, abort.signal);
      if ('task' in r) return { task: taskMessage(d.jobId, r.task) };
      if ('stop' in r) return { stop: r.stop };
      return { retryAfterMs: r.retryAfterMs };
    }),

    submitResult: submitResultHandler(d, failed, log),

    heartbeat: unary('Heartbeat', (req: HeartbeatRequest) => d.heartbeat(req.workerId, req.jobId)),

    leave: unary('Leave', (req: LeaveRequest) => {
      d.leave(req.workerId, req.reason);
      return {};
    }),
  };
}

/**
 * SubmitResult: the header is checked as soon as it arrives (a late result is answered at once,
 * a bad one rejected at once), tensor chunks are checked one by one, and the result goes to the
 * dispatcher when the stream ends. Answers exactly once.
 */
function submitResultHandler(d: Dispatcher, failed: (method: string, err: unknown) => GrpcStatus, log: Logger) {
  return (call: ServerReadableStream<ResultChunk, SubmitReply>, callback: sendUnaryData<SubmitReply>): void => {
    let answered = false;
    let header: ResultHeader | undefined;
    let expectation: ResultExpectation | undefined;
    let assembler: TensorAssembler | undefined;
    let guard: ResultStreamGuard | undefined;
    /** Set once completeResult owns the decoded vector; before that, an error hands it back. */
    let handedOver = false;
    const answer = (err: GrpcStatus | null, reply?: SubmitReply) => {
      if (answered) return;
      answered = true;
      if (expectation && !handedOver) d.discard(expectation);
      if (err) callback(err);
      else callback(null, reply);
    };
    call.on('data', (chunk: ResultChunk) => {
      if (answered) return;
      try {
        if (!header) {
          if (!chunk.header || chunk.tensor) throw new MalformedResultError('a result stream must start with its header (alone)');
          header = chunk.header;
          expectation = d.beginResult(header);
          // A late result is answered at once; its tensors are not needed.
          if (expectation.kind === 'late') return answer(null, { accepted: false, note: expectation.note });
          // Training gradients are decoded straight into the run's arena (one copy from the wire).
          const what = `result for task ${expectation.key}`;
          assembler = new TensorAssembler(expectation.layout, what, expectation.into?.parts);
          guard = new ResultStreamGuard(expectation.limits, what, expectation.spec.step);
          return;
        }
        if (!chunk.tensor || chunk.header) throw new MalformedResultError('a result stream has one header, then tensor chunks only');
        // Counts, order and codec before a byte is decoded.
        guard!.check(chunk.tensor);
        assembler!.add(chunk.tensor);
        d.transfer.gradientChunk(chunk.tensor.data.length);
      } catch (err) {
        answer(failed('SubmitResult', err));
      }
    });
    call.on('end', () => {
      if (answered) return;
      try {
        if (!header || !expectation || expectation.kind !== 'expected') throw new MalformedResultError('a result stream must start with its header');
        assembler!.finish();
        handedOver = true;
        d.transfer.result();
        const r = d.completeResult(header, expectation, header.wantNext);
        answer(null, { accepted: r.accepted, note: r.note, ...(r.next ? { next: taskMessage(d.jobId, r.next) } : {}) });
      } catch (err) {
        answer(failed('SubmitResult', err));
      }
    });
    call.on('error', (err) => {
      log.debug({ err }, 'SubmitResult stream broke off');
      answer({ code: Status.CANCELLED, details: 'stream broke off' });
    });
    // grpc-js ends a call itself, without an 'error', when the client cancels it or sends a
    // message over the size limit (RESOURCE_EXHAUSTED): the vector goes back then too.
    call.once('cancelled', () => answer({ code: Status.CANCELLED, details: 'the call ended before its result was read' }));
  };
}

/** The job package as GetJob chunks: metadata first, then the train graph's bytes, then the eval graph's (then the attack graph's, when the job has one). */
function jobChunks(d: Dispatcher): JobChunk[] {
  const { metadata, trainModel, evalModel, attackModel } = d.job;
  const limit = metadata.chunkBytes;
  const chunks: JobChunk[] = [{ metadataJson: JSON.stringify(metadata), graph: '', data: Buffer.alloc(0), offset: 0, total: 0 }];
  const graphs: [string, Uint8Array][] = [['train', trainModel], ['eval', evalModel]];
  if (attackModel) graphs.push(['attack', attackModel]);
  for (const [graph, bytes] of graphs) {
    for (let offset = 0; offset < bytes.length; offset += limit) {
      const end = Math.min(bytes.length, offset + limit);
      chunks.push({ metadataJson: '', graph, data: Buffer.from(bytes.subarray(offset, end)), offset, total: bytes.length });
    }
  }
  return chunks;
}

/** Writes chunks in order, waiting for the transport to drain when its buffer is full. */
async function writeAll<T>(call: ServerWritableStream<unknown, T>, chunks: readonly T[]): Promise<void> {
  for (const c of chunks) {
    if (call.cancelled) return;
    if (!call.write(c)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = () => {
          call.off('error', onError);
          call.off('cancelled', onDrain);
          resolve();
        };
        const onError = (e: Error) => {
          call.off('drain', onDrain);
          call.off('cancelled', onDrain);
          reject(e);
        };
        call.once('drain', onDrain);
        call.once('error', onError);
        call.once('cancelled', onDrain);
      });
    }
  }
}
