/**
 * One coordinator per run directory: `coordinator.lock` holds the owner's pid, host and start
 * time while it runs. Two coordinators on one directory would both rewind metrics.jsonl and
 * write checkpoints over each other, so a second one is refused with a line naming the first.
 *
 * A lock is stale, and taken over with a warning, when its process is gone: same host and no
 * such pid. A lock from another host is taken over too: after a pod is replaced (Kubernetes
 * starts the new one only once the old has ended, podReplacementPolicy: Failed) the new pod has
 * another hostname, and in a container the old pid may well be ours. The lock guards against
 * two coordinators on one machine (a second `coordinator start` in the same folder, or one
 * resuming the directory another is still writing), not across machines sharing a volume.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import type { Logger } from '../../shared/log.js';
import { RunDirectoryError } from './job-identity.js';

export const LOCK_FILE = 'coordinator.lock';

export interface LockOwner {
  pid: number;
  host: string;
  started_at: string;
}

/** Whether the process that wrote `owner` may still be running (pure, given the probe). */
export function ownerMayBeAlive(owner: LockOwner, here: { pid: number; host: string; isAlive: (pid: number) => boolean }): boolean {
  if (owner.host !== here.host) return false;
  if (owner.pid === here.pid) return false; // our own pid: a previous life of this container
  return here.isAlive(owner.pid);
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(path: string): LockOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockOwner>;
    return typeof o.pid === 'number' && typeof o.host === 'string' ? { pid: o.pid, host: o.host, started_at: String(o.started_at ?? '?') } : undefined;
  } catch {
    return undefined; // unreadable or torn: nobody can be shown as its owner
  }
}

/** The owner of `dir`'s lock when that coordinator may still be running; undefined otherwise. */
export function liveLockOwner(dir: string): LockOwner | undefined {
  const owner = readOwner(join(dir, LOCK_FILE));
  return owner && ownerMayBeAlive(owner, { pid: process.pid, host: hostname(), isAlive: processExists }) ? owner : undefined;
}

export interface RunDirLock {
  /** Removes the lock (once; only while it is still ours). */
  release(): void;
}

/**
 * Takes `dir`'s lock (creating the directory). Throws RunDirectoryError naming the other
 * coordinator when one is running there.
 */
export function lockRunDir(dir: string, log: Logger): RunDirLock {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  const me: LockOwner = { pid: process.pid, host: hostname(), started_at: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx'); // exclusive: of two coordinators racing, one creates it
      writeSync(fd, `${JSON.stringify(me)}\n`);
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw e;
      const live = liveLockOwner(dir);
      if (live) {
        throw new RunDirectoryError(
          dir,
          `another coordinator is using it (pid ${live.pid} on ${live.host}, started ${live.started_at}); stop that one first, or delete ${path} if it is gone`,
        );
      }
      log.warn({ lock: path, previous: readOwner(path) ?? 'unreadable' }, 'taking over a stale run-directory lock (its coordinator is gone)');
      rmSync(path, { force: true });
    }
  }
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      const owner = readOwner(path);
      if (owner?.pid === me.pid && owner.host === me.host && owner.started_at === me.started_at) rmSync(path, { force: true });
    },
  };
}
