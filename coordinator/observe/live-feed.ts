/**
 * What the live dashboard shows of the job a coordinator runs, and the events that change it:
 * the job's facts, every run's metric records (metrics.jsonl lines, bagging members included),
 * the workers table and, at the end, the closing summary. Pure state with listeners, no I/O:
 * dashboard-server.ts sends a snapshot to a page that connects, then the events as they happen.
 *
 * Step records are thinned once a run holds many of them (every other old one is dropped), so
 * that a week-long job neither grows the coordinator's memory nor the page's first download
 * without bound; evaluation and resume records are always kept.
 */
import type { WorkerRow } from './workers-table.js';

export type MetricRecord = Record<string, unknown>;

export interface DashboardJob {
  name: string;
  jobId: string;
  runDir: string;
  /** Parameter values (not tensors) of the model. */
  parameters: number;
  trainingSamples: number;
  /** Steps the job schedules (early stopping may end sooner), for every run. */
  plannedSteps: number;
  epochs: number;
  /** The runs being trained: the job's name, or its bagging members. */
  runs: string[];
  startedAt: number;
}

export type JobState = 'training' | 'finished' | 'failed' | 'stopped';

export interface JobStatus {
  state: JobState;
  /** Why the job ended (absent while it trains). */
  reason?: string;
  /** The closing summary `coordinator start` prints (final-report.ts). */
  summaryLines?: string[];
}

export interface FeedSnapshot {
  job: DashboardJob;
  status: JobStatus;
  records: MetricRecord[];
  workers: WorkerRow[];
  /** The coordinator's clock when the snapshot was taken (the page shows heartbeat ages from it). */
  at: number;
}

export type FeedEvent = { type: 'record'; record: MetricRecord } | { type: 'workers'; workers: WorkerRow[]; at: number } | { type: 'status'; status: JobStatus };

export interface LiveFeedOptions {
  /** Step records kept per run before the old ones are thinned (default 4,000). */
  maxStepsPerRun?: number;
}

export class LiveFeed {
  private readonly records: MetricRecord[] = [];
  private readonly stepsPerRun = new Map<string, number>();
  private readonly listeners = new Set<(e: FeedEvent) => void>();
  private workers: WorkerRow[] = [];
  private workersJson = '[]';
  private status: JobStatus = { state: 'training' };
  private readonly maxSteps: number;

  constructor(
    readonly job: DashboardJob,
    opts: LiveFeedOptions = {},
  ) {
    this.maxSteps = opts.maxStepsPerRun ?? 4_000;
  }

  /** A metric line as it is written (or read back from a run directory at start). */
  record(line: MetricRecord): void {
    const run = String(line.run ?? '');
    if (line.type === 'resume') this.dropAfter(run, Number(line.step));
    this.records.push(line);
    if (line.type === 'step') {
      const n = (this.stepsPerRun.get(run) ?? 0) + 1;
      this.stepsPerRun.set(run, n);
      if (n > this.maxSteps) this.thin(run);
    }
    this.emit({ type: 'record', record: line });
  }

  /** The workers table at time `at`; an event only when it changed. */
  setWorkers(rows: WorkerRow[], at: number): void {
    const json = JSON.stringify(rows);
    if (json === this.workersJson) return;
    this.workers = rows;
    this.workersJson = json;
    this.emit({ type: 'workers', workers: rows, at });
  }

  end(status: JobStatus): void {
    this.status = status;
    this.emit({ type: 'status', status });
  }

  snapshot(at = Date.now()): FeedSnapshot {
    return { job: this.job, status: this.status, records: [...this.records], workers: this.workers, at };
  }

  /** Calls `listener` with every event from now on; returns the unsubscribe. */
  subscribe(listener: (e: FeedEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: FeedEvent): void {
    for (const l of this.listeners) l(e);
  }

  /** A resumed run writes its records after `step` again (metrics-rewind.ts): the old ones go. */
  private dropAfter(run: string, step: number): void {
    let steps = 0;
    for (let i = this.records.length - 1; i >= 0; i--) {
      const r = this.records[i]!;
      if (r.run !== run) continue;
      if (typeof r.step === 'number' && r.step > step) this.records.splice(i, 1);
      else if (r.type === 'step') steps++;
    }
    this.stepsPerRun.set(run, steps);
  }

  /** Drops every other step record of `run`, keeping its newest. */
  private thin(run: string): void {
    const total = this.stepsPerRun.get(run) ?? 0;
    let seen = 0;
    let kept = 0;
    let w = 0;
    for (const r of this.records) {
      if (r.type === 'step' && r.run === run) {
        // Counted from the newest: it, and every second one before it, stay.
        if ((total - ++seen) % 2 !== 0) continue;
        kept++;
      }
      this.records[w++] = r;
    }
    this.records.length = w;
    this.stepsPerRun.set(run, kept);
  }
}
