/**
 * The coordinator's Prometheus metrics (prom-client): what a step costs and does, the worker
 * pool, the bytes through the coordinator, tasks that moved between workers. Step and evaluation
 * figures come from the same records as metrics.jsonl (observe()), so both always agree; pool,
 * transfer and task figures are read from their owners when Prometheus scrapes.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { WorkerState } from '../dispatch/worker-registry.js';
import type { TransferCounts } from '../dispatch/transfer-meter.js';
import type { TaskMoves } from '../dispatch/scheduler.js';

export interface MetricSources {
  /** Workers connected now, with their state. */
  workers(): { state: WorkerState }[];
  transfer(): TransferCounts;
  taskMoves(): Readonly<TaskMoves>;
}

const WORKER_STATES: readonly WorkerState[] = ['registered', 'training', 'draining'];

export class CoordinatorMetrics {
  readonly registry = new Registry();
  private readonly stepSeconds: Histogram<'run'>;
  private readonly steps: Counter<'run'>;
  private readonly skipped: Counter<'run'>;
  private readonly samples: Counter<'run'>;
  private readonly samplesPerSecond: Gauge<'run'>;
  private readonly loss: Gauge<'run'>;
  private readonly gradNorm: Gauge<'run' | 'clipping'>;
  private readonly lr: Gauge<'run'>;
  private readonly evalLoss: Gauge<'run' | 'split'>;
  private readonly evalAccuracy: Gauge<'run' | 'split'>;
  /** The time of each run's previous step line, for the step duration. */
  private readonly lastStepAt = new Map<string, number>();

  constructor(sources: MetricSources) {
    const r = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'gradfleet_coordinator_' });
    this.stepSeconds = new Histogram({ name: 'gradfleet_step_seconds', help: 'Time between consecutive optimizer steps of a run', labelNames: ['run'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: r });
    this.steps = new Counter({ name: 'gradfleet_steps_total', help: 'Optimizer steps taken (skipped steps included)', labelNames: ['run'], registers: r });
    this.skipped = new Counter({ name: 'gradfleet_skipped_steps_total', help: 'Steps skipped because the gradient held non-finite values', labelNames: ['run'], registers: r });
    this.samples = new Counter({ name: 'gradfleet_samples_total', help: 'Training samples consumed', labelNames: ['run'], registers: r });
    this.samplesPerSecond = new Gauge({ name: 'gradfleet_samples_per_second', help: "Training samples per second of the run's last step", labelNames: ['run'], registers: r });
    this.loss = new Gauge({ name: 'gradfleet_loss', help: "Mean training loss of the run's last step", labelNames: ['run'], registers: r });
    this.gradNorm = new Gauge({ name: 'gradfleet_grad_norm', help: 'Global L2 norm of the mean gradient of the last step, before and after clipping', labelNames: ['run', 'clipping'], registers: r });
    this.lr = new Gauge({ name: 'gradfleet_learning_rate', help: "Learning rate of the run's last step", labelNames: ['run'], registers: r });
    this.evalLoss = new Gauge({ name: 'gradfleet_eval_loss', help: 'Mean loss of the last evaluation of a split', labelNames: ['run', 'split'], registers: r });
    this.evalAccuracy = new Gauge({ name: 'gradfleet_eval_accuracy', help: 'Accuracy of the last evaluation of a split', labelNames: ['run', 'split'], registers: r });
    new Gauge({
      name: 'gradfleet_workers',
      help: 'Workers connected, by state',
      labelNames: ['state'],
      registers: r,
      collect() {
        const counts = new Map<WorkerState, number>(WORKER_STATES.map((s) => [s, 0]));
        for (const w of sources.workers()) counts.set(w.state, (counts.get(w.state) ?? 0) + 1);
        for (const [state, n] of counts) this.set({ state }, n);
      },
    });
    // Running totals kept by their owners, read at scrape time.
    const total = (name: string, help: string, read: () => number) =>
      new Counter({ name, help, registers: r, collect() { this.reset(); this.inc(read()); } });
    total('gradfleet_params_bytes_sent_total', 'Parameter bytes sent to workers (tensor payload)', () => sources.transfer().params_bytes_sent);
    total('gradfleet_gradient_bytes_received_total', 'Gradient bytes received from workers (tensor payload)', () => sources.transfer().gradient_bytes_received);
    total('gradfleet_results_total', 'Task results received from workers', () => sources.transfer().results);
    new Counter({
      name: 'gradfleet_tasks_moved_total',
      help: 'Tasks given to another worker: its worker was lost, handed it back, or sent non-finite values',
      labelNames: ['reason'],
      registers: r,
      collect() {
        this.reset();
        for (const [reason, n] of Object.entries(sources.taskMoves())) this.inc({ reason }, n);
      },
    });
  }

  /** A metrics.jsonl record of any run (step, skipped step, evaluation; others are ignored). */
  observe(line: Record<string, unknown>): void {
    const run = typeof line.run === 'string' ? line.run : '';
    if (line.type === 'step') {
      const time = line.time as number;
      const prev = this.lastStepAt.get(run);
      if (prev !== undefined && time >= prev) this.stepSeconds.observe({ run }, (time - prev) / 1000);
      this.lastStepAt.set(run, time);
      this.steps.inc({ run });
      if (typeof line.samples === 'number') this.samples.inc({ run }, line.samples);
      if (line.skipped === true) {
        this.skipped.inc({ run });
        return;
      }
      if (typeof line.loss === 'number') this.loss.set({ run }, line.loss);
      if (typeof line.samples_per_s === 'number') this.samplesPerSecond.set({ run }, line.samples_per_s);
      if (typeof line.grad_norm === 'number') this.gradNorm.set({ run, clipping: 'before' }, line.grad_norm);
      if (typeof line.grad_norm_clipped === 'number') this.gradNorm.set({ run, clipping: 'after' }, line.grad_norm_clipped);
      if (typeof line.lr === 'number') this.lr.set({ run }, line.lr);
    } else if (line.type === 'eval' && typeof line.split === 'string') {
      if (typeof line.loss === 'number') this.evalLoss.set({ run, split: line.split }, line.loss);
      if (typeof line.accuracy === 'number') this.evalAccuracy.set({ run, split: line.split }, line.accuracy);
    } else if (line.type === 'resume') {
      // The next step's duration would span the restart.
      this.lastStepAt.delete(run);
    }
  }
}
