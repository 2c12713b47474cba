/**
 * The run directory `coordinator start` uses without --run-dir (coordinator/run-dir/default.ts),
 * on real folders: job-identity.json written by writeIdentity, checkpoints by saveCheckpoint,
 * so the facts are read the way the coordinator reads them. Plus the command line: --fresh with
 * --run-dir is a usage error (exit 2) before any job runs.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync, statSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { saveCheckpoint } from '../../coordinator/checkpoint/file.js';
import { COORDINATOR_EXIT, main } from '../../coordinator/cli.js';
import { RunDirectoryError, writeIdentity } from '../../coordinator/run-dir/job-identity.js';
import { parseJob } from '../../coordinator/job/load.js';
import type { JobConfig, JobInput } from '../../coordinator/job/schema.js';
import { runDirectoryFor } from '../../coordinator/run-dir/default.js';
import { LOCK_FILE } from '../../coordinator/run-dir/lock.js';
import { timestampedRunDirName } from '../../coordinator/run-dir/choice.js';
import { tinyJob } from '../cluster/harness.js';

const log = pino({ level: 'silent' });
const job = (over: Partial<JobInput> = {}): JobConfig => parseJob(tinyJob(over), 'test job');
const NOW = new Date('2026-05-01T10:00:00.000Z');

let runsDir: string;
let printed: string[];
beforeEach(() => {
  runsDir = join(mkdtempSync(join(tmpdir(), 'gradfleet-run-dir-')), 'runs');
  printed = [];
});
afterEach(() => rmSync(resolve(runsDir, '..'), { recursive: true, force: true }));

const choose = (j: JobConfig, o: { runDir?: string; fresh?: boolean } = {}) => runDirectoryFor(j, { ...o, runsDir, now: () => NOW, log, print: (l) => printed.push(l) });
const newDir = (j: JobConfig) => join(runsDir, timestampedRunDirName(j.name, NOW));

/** A timestamped directory of `of`'s config written at `iso`, with checkpoints of the given stages. */
function runDir(of: JobConfig, iso: string, o: { checkpoints?: { run?: string; step: number; stage: string; sub?: string }[]; finalParams?: boolean; identity?: boolean } = {}): string {
  const dir = join(runsDir, timestampedRunDirName(of.name, new Date(iso)));
  mkdirSync(dir, { recursive: true });
  if (o.identity !== false) writeIdentity(dir, of, `${of.name}-0000`);
  for (const c of o.checkpoints ?? []) {
    // Only the meta fields the choice reads; the tensors do not matter to it.
    saveCheckpoint(join(dir, c.sub ?? '', 'checkpoints'), c.step, { meta: { run: c.run ?? of.name, globalStep: c.step, stage: c.stage }, tensors: [new Float32Array(3)] }, 3);
  }
  if (o.finalParams) writeFileSync(join(dir, 'final-params.json'), '[]\n');
  return dir;
}

describe('without --run-dir: the newest run directory of this job config', () => {
  it('no runs/ folder yet: a new timestamped directory, nothing printed', () => {
    expect(choose(job())).toBe(newDir(job()));
    expect(printed).toEqual([]);
  });

  it('unfinished (a run mid-training): resumed, with a line naming it and its last checkpoint', () => {
    runDir(job(), '2026-04-01T00:00:00.000Z', { checkpoints: [{ step: 4, stage: 'train' }, { step: 8, stage: 'train' }] });
    const unfinished = runDir(job(), '2026-04-02T00:00:00.000Z', { checkpoints: [{ step: 12, stage: 'train' }] });
    expect(choose(job())).toBe(unfinished);
    expect(printed).toEqual([`resuming the unfinished run directory ${unfinished} (same job config, last checkpoint at step 12); pass --fresh to start a new one`]);
  });

  it('unfinished but in use by a running coordinator (its lock names a live process here): a new directory, and a line saying so', async () => {
    const unfinished = runDir(job(), '2026-04-02T00:00:00.000Z', { checkpoints: [{ step: 12, stage: 'train' }] });
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
    const exited = new Promise((r) => other.once('exit', r));
    try {
      writeFileSync(join(unfinished, LOCK_FILE), JSON.stringify({ pid: other.pid, host: hostname(), started_at: NOW.toISOString() }));
      expect(choose(job())).toBe(newDir(job()));
      expect(printed).toEqual([`the newest run directory of this job config, ${unfinished}, is in use by a running coordinator (pid ${other.pid}): starting a new one`]);
    } finally {
      other.kill('SIGKILL');
      await exited;
    }
    // Once that coordinator is gone, its stale lock does not stand in the way.
    printed = [];
    expect(choose(job())).toBe(unfinished);
  });

  it('finished (every run done, final-params.json written): a new directory; an older unfinished one is not gone back to', () => {
    runDir(job(), '2026-04-01T00:00:00.000Z', { checkpoints: [{ step: 8, stage: 'train' }] });
    runDir(job(), '2026-04-02T00:00:00.000Z', { checkpoints: [{ step: 52, stage: 'done' }], finalParams: true });
    expect(choose(job())).toBe(newDir(job()));
    expect(printed).toEqual([]);
  });

  it('a failed run counts as over, like a done one', () => {
    runDir(job(), '2026-04-02T00:00:00.000Z', { checkpoints: [{ step: 9, stage: 'failed' }], finalParams: true });
    expect(choose(job())).toBe(newDir(job()));
  });

  it('every run over but no final-params.json (the coordinator died at the very end): resumed to write it', () => {
    const dir = runDir(job(), '2026-04-02T00:00:00.000Z', { checkpoints: [{ step: 52, stage: 'done' }] });
    expect(choose(job())).toBe(dir);
    expect(printed[0]).toContain('every run is over, but its final outputs were not written');
  });

  it('its newest checkpoint (done) is corrupt: judged by the previous good one, as the coordinator restores it', () => {
    const dir = runDir(job(), '2026-04-02T00:00:00.000Z', { checkpoints: [{ step: 48, stage: 'train' }, { step: 52, stage: 'done' }], finalParams: true });
    const newest = join(dir, 'checkpoints', 'ckpt-0000000052.gfck');
    truncateSync(newest, statSync(newest).size - 5);
    expect(choose(job())).toBe(dir);
    expect(printed[0]).toContain('last checkpoint at step 48');
  });

  it('an identity but no checkpoint yet (died before the first one): a new directory, and a line saying why', () => {
    runDir(job(), '2026-04-01T00:00:00.000Z', { checkpoints: [{ step: 8, stage: 'train' }] });
    const empty = runDir(job(), '2026-04-02T00:00:00.000Z');
    expect(choose(job())).toBe(newDir(job()));
    expect(printed).toEqual([`the newest run directory of this job config, ${empty}, has no checkpoint to resume from: starting a new one`]);
  });

  it('directories of another config, without an identity, or not timestamped are passed over', () => {
    const mine = runDir(job(), '2026-04-01T00:00:00.000Z', { checkpoints: [{ step: 8, stage: 'train' }] });
    runDir(job({ seed: 8 }), '2026-04-03T00:00:00.000Z', { checkpoints: [{ step: 20, stage: 'train' }] });
    runDir(job(), '2026-04-04T00:00:00.000Z', { identity: false, checkpoints: [{ step: 30, stage: 'train' }] });
    mkdirSync(join(runsDir, 'tiny-best'));
    writeIdentity(join(runsDir, 'tiny-best'), job(), 'tiny-1111');
    writeFileSync(join(runsDir, 'tiny-2026-04-05T00-00-00-000Z'), 'a file, not a directory');
    expect(choose(job())).toBe(mine);
  });

  it('settings that do not change what is computed (lease, checkpoint cadence) still resume', () => {
    const dir = runDir(job(), '2026-04-01T00:00:00.000Z', { checkpoints: [{ step: 8, stage: 'train' }] });
    expect(choose(job({ workers: { heartbeat: '1s', lease: '20s' }, checkpoint: { every_steps: 2, keep: 5 } }))).toBe(dir);
  });

  it('an ensemble: unfinished until every member is over', () => {
    const ensemble = job({ ensemble: { members: 2 } });
    const members = (second: string) => [
      { run: 'member-0', step: 20, stage: 'done', sub: 'members/0' },
      { run: 'member-1', step: 14, stage: second, sub: 'members/1' },
    ];
    const older = runDir(ensemble, '2026-04-01T00:00:00.000Z', { checkpoints: members('train') });
    expect(choose(ensemble)).toBe(older);
    expect(printed[0]).toContain('last checkpoints: member-0 at step 20 (over), member-1 at step 14)');
    runDir(ensemble, '2026-04-02T00:00:00.000Z', { checkpoints: members('done'), finalParams: true });
    expect(choose(ensemble)).toBe(newDir(ensemble));
  });

  it('--fresh: a new directory even when an unfinished one would be resumed', () => {
    runDir(job(), '2026-04-02T00:00:00.000Z', { checkpoints: [{ step: 12, stage: 'train' }] });
    expect(choose(job(), { fresh: true })).toBe(newDir(job()));
    expect(printed).toEqual([]);
    expect(readdirSync(runsDir)).toHaveLength(1); // chosen, not created: the coordinator creates it
  });
});

describe('a named run directory', () => {
  it('--run-dir or the job\'s run_dir is used as given, unfinished timestamped ones notwithstanding', () => {
    runDir(job(), '2026-04-02T00:00:00.000Z', { checkpoints: [{ step: 12, stage: 'train' }] });
    expect(choose(job(), { runDir: 'somewhere/else' })).toBe(resolve('somewhere/else'));
    expect(choose(job({ run_dir: 'from/the/job' }))).toBe(resolve('from/the/job'));
    expect(printed).toEqual([]);
  });

  it('--fresh with either one is refused (RunDirectoryError: exit 2), naming why', () => {
    expect(() => choose(job(), { runDir: 'x', fresh: true })).toThrow(RunDirectoryError);
    expect(() => choose(job(), { runDir: 'x', fresh: true })).toThrow(/cannot be combined with --run-dir/);
    expect(() => choose(job({ run_dir: 'from/the/job' }), { fresh: true })).toThrow(/--fresh starts a new timestamped directory under runs\/, but the job file sets run_dir/);
  });

  it('`coordinator start --fresh --run-dir D`: a usage error, exit 2, before the job is read or run', async () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const run = vi.fn(async () => COORDINATOR_EXIT.done);
    try {
      const code = await main(['node', 'coordinator', 'start', '--fresh', '--run-dir', 'runs/x', '--config', 'no-such-job.yaml'], run);
      expect(code).toBe(COORDINATOR_EXIT.cannotRun);
      expect(run).not.toHaveBeenCalled();
      expect(err.mock.calls.map(([s]) => String(s)).join('')).toContain('error: --fresh starts a new timestamped run directory under runs/; it cannot be combined with --run-dir (runs/x)');
    } finally {
      err.mockRestore();
    }
  });
});
