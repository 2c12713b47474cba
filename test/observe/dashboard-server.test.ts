/**
 * The dashboard's web server (coordinator/observe/dashboard-server.ts) over real HTTP: the page
 * and uPlot served from the installed package, the live job as server-sent events, past run
 * directories listed and read, and nothing outside the runs directory reachable.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { LiveFeed } from '../../coordinator/observe/live-feed.js';
import { serveDashboard, type DashboardServer } from '../../coordinator/observe/dashboard-server.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function runsDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gradfleet-dash-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function writeRun(dir: string, name: string, records: object[], summary?: object): string {
  const runDir = join(dir, name);
  mkdirSync(runDir, { recursive: true });
  writeFileSync(join(runDir, 'metrics.jsonl'), records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  if (summary) writeFileSync(join(runDir, 'summary.json'), JSON.stringify(summary));
  return runDir;
}

async function start(o: { feed?: LiveFeed; runsDir: string }): Promise<DashboardServer> {
  const server = await serveDashboard({ host: '127.0.0.1', port: 0, ...o });
  cleanups.push(() => server.close());
  return server;
}

/** Reads server-sent events until `until` says stop; returns them as [event, data]. */
function readEvents(url: string, until: (events: [string, unknown][]) => boolean): Promise<[string, unknown][]> {
  return new Promise((resolve, reject) => {
    const events: [string, unknown][] = [];
    const req = request(url, (res) => {
      expect(res.headers['content-type']).toBe('text/event-stream');
      let buffer = '';
      res.on('data', (d: Buffer) => {
        buffer += d.toString();
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) events.push([event, JSON.parse(data)]);
        }
        if (until(events)) {
          req.destroy();
          resolve(events);
        }
      });
      res.on('end', () => resolve(events));
    });
    req.on('error', reject);
    req.end();
  });
}

const JOB = { name: 'live', jobId: 'live-1', parameters: 25_450, trainingSamples: 2_400, plannedSteps: 10, epochs: 1, runs: ['live'], startedAt: 0 };

describe('dashboard server', () => {
  it('serves the page, its script and uPlot from the installed package, nothing from elsewhere', async () => {
    const server = await start({ runsDir: runsDir() });
    const page = await fetch(server.url);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    // Every script and stylesheet is served by the dashboard itself (air-gapped clusters).
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.sort()).toEqual(['/app.css', '/app.js', '/vendor/uPlot.iife.min.js', '/vendor/uPlot.min.css']);
    for (const ref of refs) expect((await fetch(new URL(ref, server.url))).status).toBe(200);
    expect(await (await fetch(new URL('/vendor/uPlot.iife.min.js', server.url))).text()).toContain('uPlot');
    expect((await fetch(new URL('/nothing', server.url))).status).toBe(404);
    expect((await fetch(server.url, { method: 'POST' })).status).toBe(405);
  });

  it('streams a snapshot, then records, workers and the end as they happen', async () => {
    const dir = runsDir();
    const feed = new LiveFeed({ ...JOB, runDir: join(dir, 'live') });
    feed.record({ type: 'step', run: 'live', step: 1, loss: 2.3, time: 1 });
    const server = await start({ feed, runsDir: dir });
    const events = readEvents(new URL('/api/events', server.url).href, (e) => e.some(([t]) => t === 'status'));
    // Give the page's stream time to open before the events it must not miss.
    await new Promise((r) => setTimeout(r, 100));
    feed.record({ type: 'step', run: 'live', step: 2, loss: 2.1, time: 2 });
    feed.setWorkers([{ id: 'w1', name: 'a', device: 'cpu', threads: 1, state: 'training', registeredAt: 0, lastSeen: 2, microbatches: 8, evalTasks: 0, failures: 0 }], 3);
    feed.end({ state: 'finished', reason: 'job finished', summaryLines: ['live: done'] });
    const got = await events;
    expect(got.map(([t]) => t)).toEqual(['snapshot', 'record', 'workers', 'status']);
    expect(got[0]![1]).toMatchObject({ job: { name: 'live', parameters: 25_450 }, status: { state: 'training' }, records: [{ step: 1 }] });
    expect(got[1]![1]).toEqual({ type: 'step', run: 'live', step: 2, loss: 2.1, time: 2 });
    expect(got[2]![1]).toMatchObject({ at: 3, workers: [{ id: 'w1', microbatches: 8 }] });
    expect(got[3]![1]).toEqual({ state: 'finished', reason: 'job finished', summaryLines: ['live: done'] });
    expect((await fetch(new URL('/api/live', server.url), { method: 'HEAD' })).status).toBe(200);
    expect(await (await fetch(new URL('/api/live', server.url))).json()).toMatchObject({ records: [{ step: 1 }, { step: 2 }], status: { state: 'finished' } });
  });

  it('lists past run directories newest first and reads one, refusing any other path', async () => {
    const dir = runsDir();
    writeRun(dir, 'old-run', [{ type: 'step', run: 'old-run', step: 1, loss: 1, time: 1 }], { run: 'old-run', status: 'done' });
    await new Promise((r) => setTimeout(r, 20));
    writeRun(dir, 'new-run', [{ type: 'step', run: 'new-run', step: 1, loss: 3, time: 1 }]);
    mkdirSync(join(dir, 'not-a-run'));
    writeFileSync(join(dir, 'secret.txt'), 'no');
    const server = await start({ runsDir: dir });
    const runs = (await (await fetch(new URL('/api/runs', server.url))).json()) as { name: string; ended: boolean; live: boolean }[];
    expect(runs.map((r) => [r.name, r.ended, r.live])).toEqual([
      ['new-run', false, false],
      ['old-run', true, false],
    ]);
    const unfinished = (await (await fetch(new URL('/api/runs/new-run', server.url))).json()) as { runs: { metrics: { loss: number }[] }[]; summaryLines: string[] };
    expect(unfinished.runs[0]!.metrics[0]!.loss).toBe(3);
    expect(unfinished.summaryLines[0]).toMatch(/no summary.json yet/);
    for (const bad of ['not-a-run', '..%2Fetc', '%2E%2E', 'secret.txt', 'new-run%2Fmetrics.jsonl']) {
      const res = await fetch(new URL(`/api/runs/${bad}`, server.url));
      expect(res.status, bad).toBe(404);
    }
    // Without a live job the page learns it from these (HEAD is what the page asks).
    expect((await fetch(new URL('/api/live', server.url))).status).toBe(404);
    expect((await fetch(new URL('/api/live', server.url), { method: 'HEAD' })).status).toBe(404);
    expect((await fetch(new URL('/api/events', server.url))).status).toBe(404);
  });

  it('ends open event streams when it closes, so the coordinator can exit', async () => {
    const dir = runsDir();
    const feed = new LiveFeed({ ...JOB, runDir: join(dir, 'live') });
    const server = await serveDashboard({ host: '127.0.0.1', port: 0, feed, runsDir: dir });
    const events = readEvents(new URL('/api/events', server.url).href, () => false);
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await server.close();
    expect((await events).map(([t]) => t)).toEqual(['snapshot']);
    expect(Date.now() - t0).toBeLessThan(1_000);
  });

  it('names the port in the error when it cannot listen', async () => {
    const dir = runsDir();
    const first = await start({ runsDir: dir });
    const port = Number(new URL(first.url).port);
    await expect(serveDashboard({ host: '127.0.0.1', port, runsDir: dir })).rejects.toThrow(`the dashboard cannot listen on 127.0.0.1:${port} (--ui-port)`);
  });
});
