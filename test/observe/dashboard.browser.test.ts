/**
 * The live dashboard in a real browser: Debian's chromium, driven by playwright-core, watches a
 * real job (a coordinator and two worker processes) through `coordinator start --ui-port`. The
 * curves grow while it trains, the workers table counts every micro-batch exactly once, and the
 * final test accuracy and closing summary appear and agree with summary.json. Then
 * `gradfleet dashboard` shows the same run again from its run directory. Screenshots go to
 * test-artifacts/ (the README's picture is one of them).
 *
 * The browser is GRADFLEET_CHROMIUM or /usr/bin/chromium; scripts/test.sh installs Debian's
 * chromium when it is missing. Without one the test is skipped, except in CI, where it fails.
 */
import { describe, it, expect } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { NODE_FLAGS, PROCESS_ENV } from '../../shared/node-flags.js';
import { tinyJob } from '../cluster/harness.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const COORDINATOR_BIN = join(ROOT, 'bin/coordinator.mjs');
const GRADFLEET_BIN = join(ROOT, 'bin/gradfleet.mjs');
const ARTIFACTS = join(ROOT, 'test-artifacts');
const BROWSER = process.env.GRADFLEET_CHROMIUM ?? '/usr/bin/chromium';
const haveBrowser = existsSync(BROWSER);
if (!haveBrowser && process.env.CI) throw new Error(`the dashboard's browser test needs chromium at ${BROWSER} (scripts/test.sh installs Debian's chromium; or set GRADFLEET_CHROMIUM)`);

/** 2,400 training samples in micro-batches of 16: 150 per epoch, every one of them whole. */
const TRAIN = 2_400;
const MICRO = 16;
const EPOCHS = 6;
const GLOBAL = 64;

function startProcess(args: string[], cwd: string): { child: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [...NODE_FLAGS, ...args], { cwd, env: { ...process.env, ...PROCESS_ENV, GRADFLEET_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, out: () => out, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms: number, context: () => string): Promise<T> {
  for (const deadline = Date.now() + ms; ; ) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not seen in ${ms} ms\n${context()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const pointsOf = (page: Page, chart: string) => page.$eval(`#chart-${chart}`, (el) => Number((el as HTMLElement).dataset.points ?? 0)).catch(() => 0);

describe.skipIf(!haveBrowser)('live dashboard in a real browser', () => {
  it('shows a two-worker job live: growing curves, every micro-batch in the workers table, the final accuracy', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradfleet-ui-'));
    mkdirSync(ARTIFACTS, { recursive: true });
    const browser = await chromium.launch({ executablePath: BROWSER, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'] });
    const processes: ChildProcess[] = [];
    try {
      const job = tinyJob({ data: { source: 'digits', limit: TRAIN + 600, split: { validation: 300, test: 300 } }, batch: { global: GLOBAL, micro: MICRO }, epochs: EPOCHS, clip: { max_norm: 1 }, eval: { every: 50 }, adversarial: { method: 'none', epsilon: 0.1, range: [0, 1], eval_steps: 3 } } as never);
      writeFileSync(join(dir, 'job.json'), JSON.stringify(job));
      const coordinator = startProcess([COORDINATOR_BIN, 'start', '--config', 'job.json', '--port', '0', '--local-workers', '2', '--ui-port', '0'], dir);
      processes.push(coordinator.child);
      const url = await waitFor('the dashboard URL', () => /^dashboard: (\S+)$/m.exec(coordinator.out())?.[1], 60_000, coordinator.out);
      const runDir = /^run directory: (\S+)$/m.exec(coordinator.out())![1]!;

      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(e.message));
      await page.goto(url);
      await expect.poll(() => page.textContent('#job-name')).toBe('tiny');
      expect(await page.textContent('#job-facts')).toContain('25,450 parameters');

      // The training-loss curve grows while the job trains.
      const early = await waitFor('20 training steps on the page', async () => ((await pointsOf(page, 'loss')) >= 20 ? pointsOf(page, 'loss') : undefined), 60_000, coordinator.out);
      const later = await waitFor('the curve growing', async () => {
        const n = await pointsOf(page, 'loss');
        return n > early ? n : undefined;
      }, 30_000, coordinator.out);
      expect(later).toBeGreaterThan(early);
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-training.png'), fullPage: true });

      // The end: state, test accuracy and closing summary arrive before the coordinator exits.
      await waitFor('the job finished on the page', async () => ((await page.textContent('#job-state')) === 'finished' ? true : undefined), 120_000, coordinator.out);
      expect(await coordinator.exited).toBe(0);
      const summary = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as { test: { accuracy: number }; steps: number };
      expect(await page.textContent('#fig-test-acc')).toBe(summary.test.accuracy.toFixed(4));
      expect(await page.textContent('#summary')).toContain(`test: loss`);
      const steps = Math.ceil(TRAIN / GLOBAL) * EPOCHS;
      expect(await pointsOf(page, 'loss')).toBe(steps);
      expect(await page.textContent('#fig-step')).toBe(String(steps));
      expect(await pointsOf(page, 'accuracy')).toBeGreaterThanOrEqual(Math.floor(steps / 50));
      // Accuracy under attack (the job scores FGSM and PGD) is drawn next to the clean accuracy.
      const legend = await page.$$eval('#chart-accuracy .u-legend .u-series th', (ths) => ths.map((th) => (th.textContent ?? '').trim()));
      expect(legend).toEqual(expect.arrayContaining(['validation', 'test', 'validation FGSM', 'validation PGD', 'test FGSM', 'test PGD']));

      // Two workers, and each micro-batch of every epoch done by exactly one of them.
      const rows = await page.$$eval('#workers tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
      expect(rows).toHaveLength(2);
      expect(rows.map((r) => r[1]).sort()).toEqual(['local-0', 'local-1']);
      expect(rows.reduce((a, r) => a + Number(r[4]!.replace(/,/g, '')), 0)).toBe((TRAIN / MICRO) * EPOCHS);
      expect(rows.every((r) => Number(r[4]!.replace(/,/g, '')) > 0)).toBe(true);
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });

      // The same run again, from its run directory, by `gradfleet dashboard`.
      const viewer = startProcess([GRADFLEET_BIN, 'dashboard', dirname(runDir), '--port', '0'], dir);
      processes.push(viewer.child);
      const viewerUrl = await waitFor('the past-runs dashboard URL', () => /^dashboard: (\S+) /m.exec(viewer.out())?.[1], 30_000, viewer.out);
      const past = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      past.on('pageerror', (e) => pageErrors.push(e.message));
      await past.goto(viewerUrl);
      const name = runDir.slice(dirname(runDir).length + 1);
      await expect.poll(() => past.$$eval('#run-picker option', (os) => os.map((o) => (o as HTMLOptionElement).value))).toEqual([name]);
      await past.selectOption('#run-picker', name);
      await expect.poll(() => pointsOf(past, 'loss')).toBe(steps);
      expect(await past.textContent('#fig-test-acc')).toBe(summary.test.accuracy.toFixed(4));
      expect(await past.textContent('#job-state')).toBe('ended');
      expect(pageErrors).toEqual([]);
    } finally {
      await browser.close();
      for (const p of processes) p.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
