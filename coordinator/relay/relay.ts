/**
 * A relay: one level of hierarchical aggregation between workers and a coordinator.
 *
 *   coordinator ◄──── one worker: registers, takes node tasks, downloads each version's
 *        ▲            parameters once, uploads one vector per task (the real Worker class)
 *        │
 *      relay ────► a coordinator for its own workers, on its own port: the same gRPC service,
 *        │          job id, job package and dataset (its Dispatcher over a RelayRun)
 *        ▼
 *   its workers (unmodified `worker start --coordinator <relay>`, or further relays)
 *
 * An upstream task (a node of the step's reduction tree, k' micro-batches) becomes a phase for
 * the relay's workers, whose nodes are added over the local tree; the root is the upstream node's
 * value with the same bits (relay-run.ts). The coordinator sums R vectors per step instead of one
 * per worker, and sends parameters R times instead of once per worker.
 *
 * Lifecycle: listen (the port answers UNAVAILABLE until the job is loaded) ─► the Worker
 * registers upstream and loads the job ─► the job is served downstream ─► … the Worker ends:
 *   - the coordinator ended the job: the relay's workers are told to stop, and leave ─► exit 0
 *   - SIGTERM/SIGINT (the task in hand is finished first), a failure, a refused job (ensemble):
 *     the relay's workers are not sent away (they keep trying to reach it, so a relay restarted
 *     on the same port gets them back) ─► exit 128 + signal, or 1
 */
import { hostname } from 'node:os';
import { Server } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from '../../shared/log.js';
import { CoordinatorService } from '../../shared/cluster/service.js';
import { Worker } from '../../worker/loop.js';
import { workersSchema } from '../job/schema.js';
import { HEALTH_SERVICE } from '../coordinator.js';
import { DownstreamService } from './downstream-service.js';
import type { DownstreamJob, DownstreamSettings } from './downstream-job.js';
import { RelayProvider } from './relay-compute.js';
import type { RelayRefusedError } from './errors.js';
import { serverCredentials, type TlsMaterial } from '../../shared/security/tls.js';
import { joinTokenInterceptor } from '../../shared/security/join-token.js';

export interface RelayOptions {
  /** host:port of the upstream coordinator (or of another relay). */
  upstream: string;
  /** Where the relay's own workers connect. */
  host: string;
  /** 0 picks a free port (listen() returns the address). */
  port: number;
  /** Name in the upstream coordinator's logs (default relay-<host>:<pid>). */
  name?: string;
  log: Logger;
  /** Where the address and end lines go (stdout). */
  print: (line: string) => void;
  /** Leases and heartbeats of the relay's workers (default: a job file's defaults). */
  settings?: DownstreamSettings;
  /** Give up (exit 1) when no call has reached the upstream for this long (the worker's --unreachable-timeout). */
  unreachableMs?: number;
  now?: () => number;
  /** TLS (mutual TLS with a CA) for the relay's own workers; plaintext when undefined. */
  tls?: TlsMaterial;
  /** TLS towards the upstream coordinator; plaintext when undefined. */
  upstreamTls?: TlsMaterial;
  /** The join token: required from the relay's workers and sent upstream. */
  token?: string;
}

/** A job file's `workers:` defaults (coordinator/job/schema.ts) for the relay's own workers. */
function defaultSettings(): DownstreamSettings {
  const w = workersSchema.parse({});
  return { leaseMs: w.lease, heartbeatMs: w.heartbeat, waitWarningMs: w.wait_warning };
}

export class Relay {
  private readonly server: Server;
  private readonly service: DownstreamService;
  private readonly health = new HealthImplementation({ '': 'NOT_SERVING', [HEALTH_SERVICE]: 'NOT_SERVING' });
  private readonly worker: Worker;
  private readonly settings: DownstreamSettings;
  private readonly now: () => number;
  private job: DownstreamJob | undefined;
  private refused: RelayRefusedError | undefined;
  private stopRequested = false;

  constructor(private readonly o: RelayOptions) {
    this.settings = o.settings ?? defaultSettings();
    this.now = o.now ?? Date.now;
    this.server = new Server(o.token ? { interceptors: [joinTokenInterceptor(o.token, o.log.child({ side: 'downstream' }))] } : {});
    this.service = new DownstreamService(o.upstream);
    this.server.addService(CoordinatorService, this.service.handlers());
    this.health.addToServer(this.server);
    const provider = new RelayProvider({
      settings: this.settings,
      log: o.log.child({ side: 'downstream' }),
      now: this.now,
      onJob: (job) => this.serve(job),
      onRefused: (err) => (this.refused = err),
    });
    this.worker = new Worker({ coordinator: o.upstream, device: 'cpu', name: o.name ?? `relay-${hostname()}:${process.pid}`, log: o.log.child({ side: 'upstream' }), compute: provider, unreachableMs: o.unreachableMs, security: { ...(o.upstreamTls ? { tls: o.upstreamTls } : {}), ...(o.token ? { token: o.token } : {}) } });
  }

  /** Binds the relay's port; resolves with the address its workers connect to. */
  listen(): Promise<string> {
    const address = `${this.o.host}:${this.o.port}`;
    return new Promise((resolve, reject) =>
      this.server.bindAsync(address, serverCredentials(this.o.tls), (err, port) =>
        err ? reject(new Error(`cannot listen on ${address}: ${err.message}`)) : resolve(`${this.o.host.includes(':') ? `[${this.o.host}]` : this.o.host}:${port}`),
      ),
    );
  }

  /** Why the relay failed, in words (a refused job, an upstream given up on), when it did. */
  get failure(): string | undefined {
    return this.refused?.message ?? this.worker.failure;
  }

  /** Why the relay's Worker stopped (a signal's name, or the upstream's words). */
  get stoppedBecause(): string | undefined {
    return this.worker.stoppedBecause;
  }

  /** Drains: the task in hand is finished by the relay's workers, then the relay leaves upstream. */
  stop(reason: string): void {
    this.stopRequested = true;
    this.worker.stop(reason);
  }

  /** Runs until the upstream ends the job, the relay is stopped, or it fails; returns the Worker's exit code. */
  async run(): Promise<number> {
    const code = await this.worker.run();
    const job = this.job;
    const upstreamEnded = code === 0 && !this.stopRequested;
    const reason = upstreamEnded ? (this.worker.stoppedBecause ?? 'the upstream coordinator ended the job') : (this.failure ?? `relay stopped (${this.worker.stoppedBecause ?? 'failed'})`);
    if (job) {
      await job.end(upstreamEnded ? { ok: true, reason } : { ok: false, reason, interrupted: true }, Math.max(5_000, 2 * this.settings.heartbeatMs + 2_000));
      const t = job.transferred;
      this.o.print(
        `relay ${upstreamEnded ? 'finished' : 'stopped'}: ${reason} (from its workers: ${t.results} results, ${t.gradient_bytes_received} gradient bytes; to them: ${t.params_bytes_sent} parameter bytes in ${t.params_streams} streams)`,
      );
    }
    this.health.setStatus('', 'NOT_SERVING');
    this.health.setStatus(HEALTH_SERVICE, 'NOT_SERVING');
    await shutdown(this.server, 5_000);
    return code;
  }

  /** A job loaded upstream: served to the relay's workers from now on (a previous one is over). */
  private serve(job: DownstreamJob): void {
    const previous = this.job;
    this.job = job;
    if (previous) void previous.end({ ok: false, reason: `the upstream job changed to '${job.jobId}'`, interrupted: true }, 0);
    this.service.serve(job.handlers);
    this.health.setStatus('', 'SERVING');
    this.health.setStatus(HEALTH_SERVICE, 'SERVING');
    this.o.log.info({ jobId: job.jobId, upstream: this.o.upstream }, 'serving the upstream job to this relay\'s workers');
    this.o.print(`relay serving job ${job.jobId} from ${this.o.upstream}`);
  }
}

/** Stops the server: in-flight calls get `deadlineMs` to finish. */
function shutdown(server: Server, deadlineMs: number): Promise<void> {
  return new Promise((done) => {
    const force = setTimeout(() => {
      server.forceShutdown();
      done();
    }, deadlineMs);
    server.tryShutdown(() => {
      clearTimeout(force);
      done();
    });
  });
}
