/**
 * The worker registry: who is connected, what each one runs on, and its lease. A lease is
 * renewed by heartbeats and by any other call; a worker whose lease ran out is lost and its
 * tasks go back to the scheduler (the caller passes `expire`'s answer to scheduler.workerLost).
 *
 * Lifecycle of a worker: registered → training (first task) → draining (asked to stop taking
 * work) → gone (left, expired). Pure state with the clock passed in: no timers, no sockets.
 */
import { randomBytes } from 'node:crypto';
import { LimitExceededError } from '../errors.js';

export type WorkerState = 'registered' | 'training' | 'draining';

export interface WorkerInfo {
  /** Host or pod name, for logs. */
  name: string;
  /** What the worker really runs on ('cpu' after a CUDA fallback). */
  device: string;
  deviceDetail: string;
  threads: number;
  version: string;
}

export interface WorkerRecord extends WorkerInfo {
  readonly id: string;
  state: WorkerState;
  registeredAt: number;
  lastSeen: number;
  leaseUntil: number;
}

export interface RegistryOptions {
  leaseMs: number;
  /**
   * Prefix of worker ids. Random per coordinator start by default, so an id from before a
   * coordinator restart is never mistaken for a new worker's.
   */
  idPrefix?: string;
  /**
   * Most workers registered at once (a registration flood is refused past it, RESOURCE_EXHAUSTED,
   * until leases run out). Default MAX_WORKERS.
   */
  maxWorkers?: number;
}

/** Default cap on workers registered at once: far above any real pool, a bound on the registry's memory. */
export const MAX_WORKERS = 4096;

/** Longest name, device, device detail or version string a registration may carry. */
export const MAX_INFO_CHARS = 256;


export class WorkerRegistry {
  private readonly workers = new Map<string, WorkerRecord>();
  private readonly prefix: string;
  private nextNumber = 1;
  private emptySince: number | undefined;

  constructor(
    private readonly opts: RegistryOptions,
    now: number,
  ) {
    this.prefix = opts.idPrefix ?? randomBytes(3).toString('hex');
    this.emptySince = now;
  }

  get leaseMs(): number {
    return this.opts.leaseMs;
  }

  /** Registrations since the coordinator started (a worker that re-registers counts again). */
  get registrations(): number {
    return this.nextNumber - 1;
  }

  /**
   * A new worker. Its id is `w<n>-<prefix>.<secret>`: the number and prefix for people, and 96
   * random bits, so that the id, which every later call carries, works as the worker's credential:
   * another client (even an authenticated one) cannot act in a worker's name by guessing its id.
   */
  register(info: WorkerInfo, now: number): WorkerRecord {
    const max = this.opts.maxWorkers ?? MAX_WORKERS;
    if (this.workers.size >= max) throw new LimitExceededError(`${this.workers.size} workers are registered, the most this coordinator takes (${max}); try again when leases have run out`);
    const id = `w${this.nextNumber++}-${this.prefix}.${randomBytes(12).toString('base64url')}`;
    const record: WorkerRecord = { ...info, id, state: 'registered', registeredAt: now, lastSeen: now, leaseUntil: now + this.opts.leaseMs };
    this.workers.set(id, record);
    this.emptySince = undefined;
    return record;
  }

  get(id: string): WorkerRecord | undefined {
    return this.workers.get(id);
  }

  /** Renews a worker's lease; undefined when the worker is unknown. */
  touch(id: string, now: number): WorkerRecord | undefined {
    const w = this.workers.get(id);
    if (!w) return undefined;
    w.lastSeen = now;
    w.leaseUntil = now + this.opts.leaseMs;
    return w;
  }

  /** Marks the worker as computing (its first task). */
  markTraining(id: string): void {
    const w = this.workers.get(id);
    if (w && w.state === 'registered') w.state = 'training';
  }

  /** Asks a worker to drain: it gets no new tasks and is told so on its next call. */
  drain(id: string): boolean {
    const w = this.workers.get(id);
    if (!w) return false;
    w.state = 'draining';
    return true;
  }

  /** A worker that left; returns its record (undefined if it was unknown). */
  remove(id: string, now: number): WorkerRecord | undefined {
    const w = this.workers.get(id);
    if (!w) return undefined;
    this.workers.delete(id);
    if (this.workers.size === 0) this.emptySince = now;
    return w;
  }

  /** Removes and returns every worker whose lease ran out before `now`. */
  expire(now: number): WorkerRecord[] {
    const lost = [...this.workers.values()].filter((w) => w.leaseUntil < now);
    for (const w of lost) this.workers.delete(w.id);
    if (lost.length > 0 && this.workers.size === 0) this.emptySince = now;
    return lost;
  }

  get size(): number {
    return this.workers.size;
  }

  list(): WorkerRecord[] {
    return [...this.workers.values()];
  }

  /** How long the pool has been empty (0 while any worker is registered). */
  emptyFor(now: number): number {
    return this.emptySince === undefined ? 0 : now - this.emptySince;
  }
}

/**
 * Whether to log "waiting for workers" now: the pool has been empty for `warnAfterMs` and the
 * last such line is at least `warnAfterMs` old (so the line repeats, but does not flood).
 */
export function noWorkersWarningDue(emptyForMs: number, lastWarningAt: number | undefined, now: number, warnAfterMs: number): boolean {
  if (emptyForMs < warnAfterMs) return false;
  return lastWarningAt === undefined || now - lastWarningAt >= warnAfterMs;
}
