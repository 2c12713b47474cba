/**
 * A worker's own Prometheus metrics (prom-client): the tasks it computed and how they ended, the
 * time its compute thread spent on them, the values it uploaded, the parameter versions it
 * downloaded, and the calls that found the coordinator unreachable. The worker loop reports
 * through the WorkerObserver interface, so it works the same without metrics.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** What the worker loop reports (worker/loop.ts). */
export interface WorkerObserver {
  /** A task's result was answered: accepted, not needed (already had one), or rejected. */
  taskDone(kind: 'train' | 'eval', outcome: 'accepted' | 'not_needed' | 'rejected', computeMs: number, valuesSent: number): void;
  paramsDownloaded(): void;
  /** A call found the coordinator unreachable and will be tried again. */
  unreachable(call: string): void;
}

export class WorkerMetrics implements WorkerObserver {
  readonly registry = new Registry();
  private readonly tasks: Counter<'kind' | 'outcome'>;
  private readonly compute: Histogram<'kind'>;
  private readonly values: Counter;
  private readonly downloads: Counter;
  private readonly unreachableCalls: Counter<'call'>;

  constructor() {
    const r = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'gradfleet_worker_' });
    this.tasks = new Counter({ name: 'gradfleet_worker_tasks_total', help: 'Tasks computed, by kind and by how the coordinator answered the result', labelNames: ['kind', 'outcome'], registers: r });
    this.compute = new Histogram({ name: 'gradfleet_worker_compute_seconds', help: 'Compute-thread time per task (its micro-batches and their sum)', labelNames: ['kind'], buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: r });
    this.values = new Counter({ name: 'gradfleet_worker_gradient_values_sent_total', help: 'Gradient values uploaded (float32 each before the job’s compression)', registers: r });
    this.downloads = new Counter({ name: 'gradfleet_worker_param_downloads_total', help: 'Parameter versions downloaded', registers: r });
    this.unreachableCalls = new Counter({ name: 'gradfleet_worker_coordinator_unreachable_total', help: 'Calls that found the coordinator unreachable (each is retried with backoff)', labelNames: ['call'], registers: r });
  }

  taskDone(kind: 'train' | 'eval', outcome: 'accepted' | 'not_needed' | 'rejected', computeMs: number, valuesSent: number): void {
    this.tasks.inc({ kind, outcome });
    this.compute.observe({ kind }, computeMs / 1000);
    if (valuesSent > 0) this.values.inc(valuesSent);
  }

  paramsDownloaded(): void {
    this.downloads.inc();
  }

  unreachable(call: string): void {
    this.unreachableCalls.inc({ call });
  }
}
