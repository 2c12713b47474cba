/**
 * One coordinator per run directory (coordinator/run-dir/lock.ts): a live owner is refused with a
 * line naming it, a dead one's lock is taken over, release removes only our own lock, the default
 * run directory passes over a directory in use, and a second real coordinator on a directory in
 * use exits 2 before touching it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { LOCK_FILE, lockRunDir, ownerMayBeAlive } from '../../coordinator/run-dir/lock.js';
import { COORDINATOR_EXIT } from '../../coordinator/cli.js';
import { NODE_FLAGS } from '../../shared/node-flags.js';
import { tinyJob } from '../cluster/harness.js';

const log = pino({ level: 'silent' });
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'gradfleet-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

/** A process that stays alive until killed, and resolves once it has exited. */
function sleeper(): { child: ChildProcess; exited: Promise<void> } {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
  children.push(child);
  return { child, exited: new Promise((r) => child.once('exit', () => r())) };
}

const writeLock = (d: string, pid: number, host = hostname()) => writeFileSync(join(d, LOCK_FILE), JSON.stringify({ pid, host, started_at: '2026-11-27T00:00:00.000Z' }));

describe('ownerMayBeAlive', () => {
  const here = { pid: 100, host: 'head-1', isAlive: (pid: number) => pid === 42 };
  it.each([
    ['a running process on this host', { pid: 42, host: 'head-1' }, true],
    ['a pid that no longer exists', { pid: 43, host: 'head-1' }, false],
    ['our own pid (a previous life of this container)', { pid: 100, host: 'head-1' }, false],
    ['another host (a replaced pod)', { pid: 42, host: 'head-2' }, false],
  ])('%s', (_what, owner, alive) => {
    expect(ownerMayBeAlive({ ...owner, started_at: 'x' }, here)).toBe(alive);
  });
});

describe('lockRunDir', () => {
  it('writes our pid and host, and release removes the lock', () => {
    const d = join(dir, 'plain');
    const lock = lockRunDir(d, log);
    expect(JSON.parse(readFileSync(join(d, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid, host: hostname() });
    lock.release();
    expect(existsSync(join(d, LOCK_FILE))).toBe(false);
  });

  it('refuses a directory whose lock names a running process on this host, naming it; takes it over once that process is gone', async () => {
    const d = join(dir, 'busy');
    lockRunDir(d, log).release();
    const { child, exited } = sleeper();
    writeLock(d, child.pid!);
    expect(() => lockRunDir(d, log)).toThrow(new RegExp(`run directory ${d}: another coordinator is using it \\(pid ${child.pid} on ${hostname()}, started 2026-11-27T00:00:00.000Z\\); stop that one first, or delete ${join(d, LOCK_FILE)} if it is gone`));
    child.kill('SIGKILL');
    await exited;
    const lock = lockRunDir(d, log);
    expect(JSON.parse(readFileSync(join(d, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    lock.release();
  });

  it('takes over an unreadable lock and one from another host', () => {
    const d = join(dir, 'stale');
    lockRunDir(d, log).release();
    writeFileSync(join(d, LOCK_FILE), '{"pid": 12');
    lockRunDir(d, log).release();
    writeLock(d, 1, 'some-other-host');
    lockRunDir(d, log).release();
  });

  it('release leaves a lock that is no longer ours', () => {
    const d = join(dir, 'taken');
    const lock = lockRunDir(d, log);
    writeLock(d, 1, 'some-other-host');
    lock.release();
    expect(JSON.parse(readFileSync(join(d, LOCK_FILE), 'utf8')).host).toBe('some-other-host');
  });
});

describe('two coordinators on one run directory', () => {
  it('the second exits 2 naming the first, which goes on and removes its lock when it stops', async () => {
    const runDir = join(dir, 'shared-run');
    const jobFile = join(dir, 'job.json');
    writeFileSync(jobFile, JSON.stringify(tinyJob({ name: 'locked' })));
    const start = () => {
      const child = spawn(process.execPath, [...NODE_FLAGS, join(ROOT, 'bin/coordinator.mjs'), 'start', '--config', jobFile, '--port', '0', '--run-dir', runDir], { env: { ...process.env, GRADFLEET_LOG_LEVEL: 'warn' } });
      children.push(child);
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
      child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      return { child, exited, out: () => stdout, err: () => stderr };
    };
    const first = start();
    // No worker joins: the first coordinator listens and waits.
    for (const deadline = Date.now() + 60_000; !first.out().includes('coordinator listening on'); ) {
      if (Date.now() > deadline || first.child.exitCode !== null) throw new Error(`the first coordinator did not start:\n${first.out()}\n${first.err()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const second = start();
    expect(await second.exited, second.err()).toBe(COORDINATOR_EXIT.cannotRun);
    expect(second.err()).toContain(`another coordinator is using it (pid ${first.child.pid} on ${hostname()}`);
    expect(second.out()).toBe('');
    expect(first.child.exitCode).toBeNull();
    first.child.kill('SIGTERM');
    expect(await first.exited, first.err()).toBe(COORDINATOR_EXIT.stopped);
    expect(existsSync(join(runDir, LOCK_FILE))).toBe(false);
  }, 90_000);
});
