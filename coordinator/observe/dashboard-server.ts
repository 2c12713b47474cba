/**
 * The live dashboard's web server (`coordinator start --ui-port`, `gradfleet dashboard`): the page
 * (page/), uPlot from the installed package (no CDN: clusters are often air-gapped), the live
 * job as server-sent events, and the past runs of a runs directory, read from their run
 * directories. Read-only, and bound to loopback unless told otherwise.
 *
 *   GET /                     the page
 *   GET /api/events           SSE: `snapshot` (the whole live state), then `record`, `workers`, `status`
 *   GET /api/live             the live state as one JSON document (404 without a live job)
 *   GET /api/runs             the run directories under the runs directory, newest first
 *   GET /api/runs/<name>      one of them: summary lines and metric records (report-files.ts)
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FeedEvent, LiveFeed } from './live-feed.js';
import { readReportInput } from '../report/report-files.js';
import { searchRecordsOf } from './live-dashboard.js';

export interface DashboardOptions {
  host: string;
  /** 0: any free port. */
  port: number;
  /** The job this coordinator runs; absent for `gradfleet dashboard`, which shows past runs only. */
  feed?: LiveFeed;
  /** Where past run directories are listed from (runs/ of the working directory, usually). */
  runsDir: string;
  /** Sent as an SSE comment this often, so proxies and browsers keep an idle stream open. */
  keepAliveMs?: number;
}

export interface DashboardServer {
  /** http://host:port/ */
  url: string;
  /** Ends every event stream (the page keeps what it shows) and stops listening. */
  close(): Promise<void>;
}

export interface RunListing {
  name: string;
  /** Whether summary.json is there: the run ended (its closing summary is written). */
  ended: boolean;
  modified: number;
  /** The run directory the live job writes. */
  live: boolean;
}

const PAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), 'page');
/** uPlot's dist/ folder of the installed package (its main file lives there). */
const UPLOT_DIR = dirname(createRequire(import.meta.url).resolve('uplot'));

const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: join(PAGE_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
  '/app.js': { file: join(PAGE_DIR, 'app.js'), type: 'text/javascript; charset=utf-8' },
  '/app.css': { file: join(PAGE_DIR, 'app.css'), type: 'text/css; charset=utf-8' },
  '/vendor/uPlot.iife.min.js': { file: join(UPLOT_DIR, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/vendor/uPlot.min.css': { file: join(UPLOT_DIR, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

/** Run directories under `runsDir`: the ones holding metrics.jsonl or summary.json, newest first. */
export function listRuns(runsDir: string, liveRunDir?: string): RunListing[] {
  if (!existsSync(runsDir)) return [];
  return readdirSync(runsDir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => join(runsDir, e.name))
    .filter((d) => existsSync(join(d, 'metrics.jsonl')) || existsSync(join(d, 'summary.json')))
    .map((d) => ({ name: d.slice(runsDir.length + 1), ended: existsSync(join(d, 'summary.json')), modified: statSync(d).mtimeMs, live: d === liveRunDir }))
    .sort((a, b) => b.modified - a.modified || a.name.localeCompare(b.name));
}

export async function serveDashboard(o: DashboardOptions): Promise<DashboardServer> {
  const streams = new Set<ServerResponse>();
  const assets = new Map(Object.entries(ASSETS).map(([path, a]) => [path, { body: readFileSync(a.file), type: a.type }]));

  const server: Server = createServer((req, res) => {
    try {
      route(req, res);
    } catch (err) {
      sendJson(res, 500, { error: (err as Error).message });
    }
  });

  function route(req: IncomingMessage, res: ServerResponse): void {
    let path: string;
    try {
      path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    } catch {
      return sendJson(res, 400, { error: `malformed URL: ${req.url}` });
    }
    // HEAD /api/live: whether there is a live job, without its whole history.
    if (req.method === 'HEAD' && path === '/api/live') return void res.writeHead(o.feed ? 200 : 404).end();
    if (req.method !== 'GET') return sendJson(res, 405, { error: `${req.method} is not served: the dashboard is read-only` });
    const asset = assets.get(path);
    if (asset) {
      res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'no-cache' }).end(asset.body);
      return;
    }
    if (path === '/favicon.ico') return void res.writeHead(204).end();
    if (path === '/api/events') return openStream(res);
    if (path === '/api/live') return o.feed ? sendJson(res, 200, o.feed.snapshot()) : sendJson(res, 404, { error: 'no live job: this dashboard shows past runs only' });
    if (path === '/api/runs') return sendJson(res, 200, listRuns(o.runsDir, o.feed?.job.runDir));
    if (path.startsWith('/api/runs/')) {
      const name = path.slice('/api/runs/'.length);
      // Only a name the listing gives: nothing outside the runs directory can be asked for.
      if (!listRuns(o.runsDir, o.feed?.job.runDir).some((r) => r.name === name)) return sendJson(res, 404, { error: `no run directory named '${name}' under ${o.runsDir}` });
      const dir = join(o.runsDir, name);
      return sendJson(res, 200, { ...readReportInput(dir), trialEvents: searchRecordsOf(dir) });
    }
    sendJson(res, 404, { error: `not found: ${path}` });
  }

  function openStream(res: ServerResponse): void {
    if (!o.feed) return sendJson(res, 404, { error: 'no live job: this dashboard shows past runs only' });
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const send = (e: FeedEvent | { type: 'snapshot'; snapshot: unknown }) => res.write(`event: ${e.type}\ndata: ${JSON.stringify(payloadOf(e))}\n\n`);
    send({ type: 'snapshot', snapshot: o.feed.snapshot() });
    const unsubscribe = o.feed.subscribe(send);
    streams.add(res);
    res.on('close', () => {
      unsubscribe();
      streams.delete(res);
    });
  }

  const keepAlive = setInterval(() => {
    for (const s of streams) s.write(': keep-alive\n\n');
  }, o.keepAliveMs ?? 15_000);
  keepAlive.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new Error(`the dashboard cannot listen on ${o.host}:${o.port} (--ui-port): ${e.message}`)));
    server.listen(o.port, o.host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  const shownHost = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return {
    url: `http://${shownHost}:${a.port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(keepAlive);
        for (const s of streams) s.end();
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

function payloadOf(e: FeedEvent | { type: 'snapshot'; snapshot: unknown }): unknown {
  switch (e.type) {
    case 'snapshot':
      return e.snapshot;
    case 'record':
      return e.record;
    case 'workers':
      return { at: e.at, workers: e.workers };
    case 'status':
      return e.status;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-cache' }).end(JSON.stringify(body));
}
