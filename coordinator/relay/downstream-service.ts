/**
 * The relay's gRPC service for its own workers: the Coordinator service (dispatch/server.ts) of
 * the job the relay serves now, switched when the upstream job changes. The port is bound before
 * the relay has a job (so its address is known at once); until the relay's Worker has registered
 * upstream and loaded the job, every call is answered UNAVAILABLE, which workers retry with
 * backoff exactly as they do while a coordinator starts.
 */
import { status as Status } from '@grpc/grpc-js';
import type { CoordinatorServer } from '../../shared/proto/gen/cluster.js';
import type { GrpcStatus } from '../dispatch/server.js';

export class DownstreamService {
  private current: CoordinatorServer | undefined;

  constructor(
    /** The upstream coordinator's address, for the answer given while there is no job. */
    private readonly upstream: string,
  ) {}

  /** From now on calls go to `handlers` (the job's service); undefined: no job (UNAVAILABLE). */
  serve(handlers: CoordinatorServer | undefined): void {
    this.current = handlers;
  }

  /** The service to add to the gRPC server: each call goes to the job served when it arrives. */
  handlers(): CoordinatorServer {
    const none = (): GrpcStatus => ({ code: Status.UNAVAILABLE, details: `this relay has no job yet: it is joining its upstream coordinator at ${this.upstream}` });
    return {
      register: (call, callback) => (this.current ? this.current.register(call, callback) : callback(none())),
      getJob: (call) => (this.current ? this.current.getJob(call) : call.emit('error', none())),
      getData: (call) => (this.current ? this.current.getData(call) : call.emit('error', none())),
      getParams: (call) => (this.current ? this.current.getParams(call) : call.emit('error', none())),
      nextTask: (call, callback) => (this.current ? this.current.nextTask(call, callback) : callback(none())),
      submitResult: (call, callback) => (this.current ? this.current.submitResult(call, callback) : callback(none())),
      heartbeat: (call, callback) => (this.current ? this.current.heartbeat(call, callback) : callback(none())),
      leave: (call, callback) => (this.current ? this.current.leave(call, callback) : callback(none())),
    };
  }
}
