/**
 * The coordinator's live dashboard (`--ui-port`): a LiveFeed fed with the job's metric lines as
 * they are written, seeded with what the run directory already holds (a resumed job shows its
 * whole history), the workers table polled once a second, and the web server. The coordinator
 * calls `observe` for each line, `end` when the job ends, then `close`.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from '../../shared/log.js';
import type { WorkerRegistry } from '../dispatch/worker-registry.js';
import type { Scheduler } from '../dispatch/scheduler.js';
import { readMetricsFile } from '../run/metrics-file.js';
import { LiveFeed, type DashboardJob, type JobStatus, type MetricRecord } from './live-feed.js';
import { WorkersTable } from './workers-table.js';
import { serveDashboard } from './dashboard-server.js';
import { RETRAIN_DIR, trialName } from '../search/hyper-search.js';
import { LOG_FILE } from '../search/search-state.js';

export interface LiveDashboardOptions {
  host: string;
  /** 0: any free port. A port already taken falls back to a free one (the URL is printed either way). */
  port: number;
  job: DashboardJob;
  registry: Pick<WorkerRegistry, 'list'>;
  scheduler: Pick<Scheduler, 'workerTallies'>;
  log: Logger;
  now: () => number;
}

export interface LiveDashboard {
  url: string;
  observe(line: MetricRecord): void;
  end(status: JobStatus): void;
  close(): Promise<void>;
}

/** The metric files of a run directory: its own, its bagging members' (members/<k>/), a search's trials (trials/<k>/) and retraining (best/). */
export function metricsFilesOf(runDir: string): string[] {
  const files = [join(runDir, 'metrics.jsonl')];
  for (const group of ['members', 'trials']) {
    const dir = join(runDir, group);
    if (!existsSync(dir)) continue;
    const ks = readdirSync(dir).filter((k) => /^\d+$/.test(k)).sort((a, b) => Number(a) - Number(b));
    files.push(...ks.map((k) => join(dir, k, 'metrics.jsonl')));
  }
  files.push(join(runDir, RETRAIN_DIR, 'metrics.jsonl'));
  return files.filter((f) => existsSync(f));
}

/** A search's events so far (search.jsonl), as the records the page's trials table reads. */
export function searchRecordsOf(runDir: string): MetricRecord[] {
  return readMetricsFile(join(runDir, LOG_FILE)).lines.map(({ record: e }) => ({ type: 'trial', ...e, run: typeof e.trial === 'number' ? trialName(e.trial) : undefined }));
}

export async function startLiveDashboard(o: LiveDashboardOptions): Promise<LiveDashboard> {
  const feed = new LiveFeed(o.job);
  const earlier = [...metricsFilesOf(o.job.runDir).flatMap((f) => readMetricsFile(f).lines.map((l) => l.record)), ...searchRecordsOf(o.job.runDir)];
  earlier.sort((a, b) => Number(a.time ?? 0) - Number(b.time ?? 0));
  for (const r of earlier) feed.record(r);

  const table = new WorkersTable();
  const pollWorkers = () => feed.setWorkers(table.update(o.registry.list(), o.scheduler.workerTallies), o.now());
  pollWorkers();
  const poll = setInterval(pollWorkers, 1_000);
  poll.unref();

  const serve = (port: number) => serveDashboard({ host: o.host, port, feed, runsDir: dirname(o.job.runDir) });
  let server;
  try {
    server = await serve(o.port);
  } catch (err) {
    if (o.port === 0) throw err;
    // The dashboard is a convenience: a taken port must not stop a job.
    o.log.warn({ port: o.port, err: (err as Error).message }, 'the dashboard port is taken; serving the dashboard on a free port instead');
    server = await serve(0);
  }
  return {
    url: server.url,
    observe: (line) => feed.record(line),
    end: (status) => {
      pollWorkers();
      feed.end(status);
    },
    close: async () => {
      clearInterval(poll);
      await server.close();
    },
  };
}
