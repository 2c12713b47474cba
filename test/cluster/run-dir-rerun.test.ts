/**
 * The same `coordinator start --config job.yaml` run again after the head node died resumes the
 * run directory it was writing, without --run-dir: real processes, in a temp working directory
 * so that runs/ is created there (the harness always passes --run-dir, so these are spawned
 * here). The coordinator is SIGKILLed once a checkpoint exists, started again with the same
 * command, and its worker reconnects on the same port; the job then ends as an uninterrupted run
 * reads. Run again once finished, the command starts a new directory; --fresh starts a new one
 * even when the newest is unfinished; and a plain rerun then resumes the newest, the --fresh one.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../shared/node-flags.js';
import type { JobInput } from '../../coordinator/job/schema.js';
import { faultSizedJob, readMetrics } from './harness.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const COORDINATOR_BIN = join(ROOT, 'bin/coordinator.mjs');
const WORKER_BIN = join(ROOT, 'bin/worker.mjs');

/** harness.ts's faultSizedJob: long enough on one worker (a few seconds) to be killed between its first checkpoint (every 4 steps) and its end. */
const JOB: JobInput = faultSizedJob({ name: 'rerun', workers: { heartbeat: '300ms', lease: '3s' } } as Partial<JobInput>);
const TOTAL_STEPS = 52;

interface Proc {
  stdout: string;
  stderr: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): void;
  running(): boolean;
}

const procs: Proc[] = [];
let cwd: string;
let port: number;

function start(bin: string, args: string[]): Proc {
  const child = spawn(process.execPath, [...NODE_FLAGS, bin, 'start', ...args], { cwd, env: { ...process.env, GRADFLEET_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let done = false;
  const p: Proc = {
    stdout: '',
    stderr: '',
    exited: new Promise((r) =>
      child.on('exit', (code, signal) => {
        done = true;
        r({ code, signal });
      }),
    ),
    kill: (signal) => void (done || child.kill(signal)),
    running: () => !done,
  };
  child.stdout.on('data', (d: Buffer) => (p.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (p.stderr += d.toString()));
  procs.push(p);
  return p;
}

/** `coordinator start --config job.yaml --port P`, in the temp working directory, no --run-dir. */
const coordinator = (...extra: string[]) => start(COORDINATOR_BIN, ['--config', 'job.yaml', '--host', '127.0.0.1', '--port', String(port), ...extra]);
const output = () => procs.map((p, i) => `process ${i}:\n${p.stdout}\n${p.stderr.slice(-3000)}`).join('\n');

async function until<T>(what: string, probe: () => T | undefined | false, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}\n${output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function exitOf(p: Proc, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref());
  const r = await Promise.race([p.exited, timeout]);
  if (r === 'timeout') throw new Error(`a process did not exit within ${ms} ms\n${output()}`);
  return r;
}

/** The run directory a coordinator printed (absolute), once it listens. */
const listeningIn = (p: Proc, ms = 20_000) => until('the coordinator to listen', () => /coordinator listening on [\s\S]*?run directory: (\S+)/.exec(p.stdout)?.[1], ms);
const runDirs = () => readdirSync(join(cwd, 'runs')).sort();
const steps = (dir: string) => {
  try {
    return readMetrics(dir).filter((m) => m.type === 'step').map((m) => m.step as number);
  } catch {
    return [];
  }
};
const checkpointFiles = (dir: string) => {
  try {
    return readdirSync(join(dir, 'checkpoints')).filter((n) => /^ckpt-\d{10}\.gfck$/.test(n));
  } catch {
    return [];
  }
};

beforeAll(async () => {
  cwd = realpathSync(mkdtempSync(join(tmpdir(), 'gradfleet-rerun-')));
  writeFileSync(join(cwd, 'job.yaml'), JSON.stringify(JOB, null, 2));
  port = await freePort();
});
afterAll(() => {
  for (const p of procs) p.kill('SIGKILL');
  rmSync(cwd, { recursive: true, force: true });
});

describe('`coordinator start` run again without --run-dir', () => {
  it('resumes the unfinished run directory after a SIGKILL; a finished one is not resumed; --fresh starts a new one', async () => {
    // 1. The first start creates runs/rerun-<time>; killed once it has a checkpoint.
    const first = coordinator();
    const dir = await listeningIn(first);
    expect(dir.startsWith(join(cwd, 'runs', 'rerun-')), dir).toBe(true);
    const worker = start(WORKER_BIN, ['--coordinator', `127.0.0.1:${port}`, '--name', 'rerun-worker']);
    await until('a checkpoint and six steps', () => checkpointFiles(dir).length > 0 && steps(dir).length >= 6, 20_000);
    first.kill('SIGKILL');
    expect((await exitOf(first, 5_000)).signal).toBe('SIGKILL');
    const stepsAtKill = steps(dir).length;
    expect(stepsAtKill, 'the job ended before it could be killed; the test needs a longer job').toBeLessThan(TOTAL_STEPS);
    const newestCheckpoint = Number(/(\d{10})/.exec(checkpointFiles(dir).sort().at(-1)!)![1]);

    // 2. The same command again: the same directory, resumed; the worker reconnects and it ends.
    const second = coordinator();
    expect(await listeningIn(second)).toBe(dir);
    const shown = `runs/${dir.slice(dir.lastIndexOf('/') + 1)}`;
    expect(second.stdout).toContain(`resuming the unfinished run directory ${shown} (same job config, last checkpoint at step ${newestCheckpoint}); pass --fresh to start a new one`);
    expect((await exitOf(second, 30_000)).code, output()).toBe(0);
    expect((await exitOf(worker, 10_000)).code, output()).toBe(0);
    expect(runDirs()).toEqual([shown.slice('runs/'.length)]);
    expect(steps(dir)).toEqual(Array.from({ length: TOTAL_STEPS }, (_, i) => i + 1));
    expect(JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'))).toMatchObject({ status: 'done', steps: TOTAL_STEPS, resumes: 1 });

    // 3. Once more, now that it is finished: a new directory (stopped with SIGTERM: it has no worker).
    const third = coordinator();
    const thirdDir = await listeningIn(third);
    expect(thirdDir).not.toBe(dir);
    expect(third.stdout).not.toContain('resuming');
    third.kill('SIGTERM');
    expect((await exitOf(third, 15_000)).code).toBe(1);
    expect(checkpointFiles(thirdDir)).toHaveLength(1); // the stop checkpoint: unfinished

    // 4. --fresh: a new directory, although the newest one is unfinished.
    const fourth = coordinator('--fresh');
    const fourthDir = await listeningIn(fourth);
    expect([dir, thirdDir]).not.toContain(fourthDir);
    expect(fourth.stdout).not.toContain('resuming');
    fourth.kill('SIGTERM');
    expect((await exitOf(fourth, 15_000)).code).toBe(1);
    expect(runDirs()).toHaveLength(3);

    // 5. Without --fresh again: the newest (the --fresh one) is resumed, not the one it left behind.
    const fifth = coordinator();
    expect(await listeningIn(fifth)).toBe(fourthDir);
    expect(fifth.stdout).toContain(`resuming the unfinished run directory runs/${fourthDir.slice(fourthDir.lastIndexOf('/') + 1)} (same job config, last checkpoint at step 0)`);
    fifth.kill('SIGTERM');
    expect((await exitOf(fifth, 15_000)).code).toBe(1);
    expect(runDirs()).toHaveLength(3);
  }, 60_000);
});

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolvePort(p));
    });
    s.on('error', reject);
  });
}
