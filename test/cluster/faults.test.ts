/**
 * Fault injection with real processes on 127.0.0.1: a worker killed (SIGKILL) while it holds a
 * micro-batch, the coordinator killed and started again on its run directory and port, a worker
 * added mid-run, a worker stalled (SIGSTOP) into the straggler path and woken (SIGCONT), a
 * graceful coordinator stop whose newest checkpoint is then corrupted, and a worker whose
 * coordinator never answers. Every disturbed run must finish with parameters bit-identical to an
 * undisturbed run of the same job (final-params.json's SHA-256). Recovery times are measured from
 * the coordinator's log (pino `time`, same machine clock) and printed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { readFileSync, readdirSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import type { JobInput } from '../../coordinator/job/schema.js';
import { parseLog, readFinalParams, readMetrics, runCluster, runCoordinatorProcess, runWorkerProcess, startCluster, faultSizedJob, type ClusterHandle, type LogLine } from './harness.js';

/** harness.ts's faultSizedJob (52 steps), named 'faults', with the given worker settings. */
function faultJob(workers: Record<string, string>, extra: Partial<JobInput> = {}): JobInput {
  return faultSizedJob({ name: 'faults', workers, ...extra } as Partial<JobInput>);
}

const TOTAL_STEPS = 52;
const INFO = { GRADFLEET_LOG_LEVEL: 'info' };
/** Debug lines say which task goes to which worker, so a test can tell what a stopped worker holds. */
const DEBUG = { GRADFLEET_LOG_LEVEL: 'debug' };
/** Recovery times measured by the tests, printed at the end. */
const measured: Record<string, number> = {};

/** What `probe` finds within `ms`, or undefined. */
async function within<T>(probe: () => T | undefined, ms: number): Promise<T | undefined> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function until<T>(what: string, probe: () => T | undefined | false, ms: number, output?: () => string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${output ? `\n${output()}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function steps(runDir: string): Record<string, unknown>[] {
  try {
    return readMetrics(runDir).filter((m) => m.type === 'step');
  } catch {
    return [];
  }
}

/** The id the coordinator gave the worker started as `test-<i>` (its latest registration). */
function workerIdOf(log: LogLine[], name: string): string | undefined {
  return log.filter((l) => l.msg === 'worker registered' && l.name === name).at(-1)?.workerId as string | undefined;
}

const sha = (runDir: string) => readFinalParams(runDir)[0]!.sha256;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Tasks the coordinator has handed to a worker and not had an answer for, with when they were handed out. */
function heldBy(log: LogLine[], workerId: string): Map<string, number> {
  const held = new Map<string, number>();
  for (const l of log) {
    if (l.workerId !== workerId) continue;
    if (l.msg === 'task handed out') held.set(l.task as string, l.time);
    else if (l.msg === 'result accepted' || l.msg === 'late or duplicate result ignored') held.delete(l.task as string);
  }
  return held;
}

/**
 * Stops a worker (SIGSTOP) at a moment it holds a micro-batch of a training step, by the
 * coordinator's account: a worker stopped while it waits for the answer to its last result holds
 * nothing, so it is woken and stopped again a little later. Returns the held tasks.
 */
async function stopHolding(c: ClusterHandle, index: number, workerId: string, what: (key: string) => boolean): Promise<{ stoppedAt: number; held: Map<string, number> }> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const stoppedAt = Date.now();
    c.workers[index]!.kill('SIGSTOP');
    // Results already on the wire land, a pending NextTask may still be answered.
    await pause(300);
    const held = heldBy(c.coordinatorLog(), workerId);
    if ([...held.keys()].some(what)) return { stoppedAt, held };
    c.workers[index]!.kill('SIGCONT');
    await pause(150 + 70 * attempt);
  }
  throw new Error(`worker ${index} never held a matching task when stopped\n${c.output()}`);
}
const trainTask = (key: string) => key.includes('/train:');

describe('a cluster that survives failures', () => {
  let undisturbed = '';
  const open: ClusterHandle[] = [];
  const cluster = async (o: Parameters<typeof startCluster>[0]) => {
    const c = await startCluster(o);
    open.push(c);
    return c;
  };

  beforeAll(async () => {
    const r = await runCluster({ job: faultJob({ heartbeat: '300ms', lease: '3s' }), workers: 2 });
    expect(r.exitCode, r.coordinator.stderr).toBe(0);
    expect(steps(r.runDir).map((s) => s.step)).toEqual(Array.from({ length: TOTAL_STEPS }, (_, i) => i + 1));
    undisturbed = sha(r.runDir);
  });

  afterAll(() => {
    for (const c of open) c.kill();
    const lines = Object.entries(measured).map(([k, v]) => `  ${k}: ${v} ms`);
    console.log(`recovery times (this machine, loopback):\n${lines.join('\n')}`);
  });

  it("reassigns a killed worker's micro-batches within one lease and ends bit-identical", async () => {
    const leaseMs = 1000;
    const c = await cluster({ job: faultJob({ heartbeat: '200ms', lease: `${leaseMs}ms` }), workers: 2, env: DEBUG });
    await until('five training steps', () => steps(c.runDir).length >= 5, 30_000, c.output);
    const victim = workerIdOf(c.coordinatorLog(), 'test-0')!;
    // Stopped first, then killed: it dies holding a micro-batch, as the coordinator sees it.
    const { stoppedAt, held } = await stopHolding(c, 0, victim, () => true);
    const killedAt = Date.now();
    c.workers[0]!.kill('SIGKILL');

    const r = await c.wait(45_000);
    expect(r.exitCode, c.output()).toBe(0);
    expect(sha(r.runDir)).toBe(undisturbed);

    const log = c.coordinatorLog();
    const expired = log.find((l) => l.msg.startsWith('worker lease expired') && l.workerId === victim);
    expect(expired, c.output()).toBeDefined();
    expect(expired!.handedBack as number).toBeGreaterThanOrEqual(held.size);
    const reassigned = log.filter((l) => l.msg === 'task reassigned' && l.from === victim);
    const completed = log.filter((l) => l.msg === "lost worker's task completed by another worker" && l.from === victim);
    expect(reassigned.length).toBe(expired!.handedBack);
    expect(completed.length).toBeGreaterThanOrEqual(1);
    // The lease ran from the victim's last call (before the SIGSTOP), so its tasks moved on
    // within one lease of its end, plus a lease check (a tenth of a lease) and scheduling slack.
    const firstReassign = Math.min(...reassigned.map((l) => l.time));
    expect(firstReassign - stoppedAt).toBeLessThan(leaseMs + 400);
    measured['worker stopped (SIGSTOP, SIGKILL ~300 ms later) → its micro-batch reassigned'] = firstReassign - stoppedAt;
    measured['worker SIGKILL → lease expired'] = expired!.time - killedAt;
    measured['worker SIGKILL → its micro-batch reassigned'] = firstReassign - killedAt;
    measured['worker SIGKILL → first result for its micro-batches accepted'] = Math.min(...completed.map((l) => l.time)) - killedAt;
    expect(r.workers[1]!.code).toBe(0);
  });

  it('resumes after the coordinator is killed: workers reconnect on the same port and the run ends bit-identical; a done run directory is not trained again; another job is refused', async () => {
    const c = await cluster({ job: faultJob({ heartbeat: '300ms', lease: '3s' }), workers: 2, env: INFO });
    await until('ten training steps and a checkpoint', () => steps(c.runDir).length >= 10 && ckptFiles(c.runDir).length > 0, 30_000, c.output);
    const killedAt = Date.now();
    c.coordinator.kill('SIGKILL');
    const killed = await c.coordinatorExited();
    expect(killed.signal).toBe('SIGKILL');
    const stepsBefore = steps(c.runDir).length;
    expect(stepsBefore).toBeLessThan(TOTAL_STEPS);

    const restartedAt = await c.restartCoordinator();
    const r = await c.wait(45_000);
    expect(r.exitCode, c.output()).toBe(0);
    expect(sha(r.runDir)).toBe(undisturbed);
    expect(r.workers.map((w) => w.code)).toEqual([0, 0]);
    // Same job id across the restart, so the workers kept their job and data (no second GetJob).
    const second = parseLog(r.coordinator.stderr);
    const started = second.find((l) => l.msg === 'coordinator started (resumed)');
    expect(started, r.coordinator.stderr).toBeDefined();
    expect(started!.jobId).toBe(parseLog(killed.stderr).find((l) => l.msg.startsWith('coordinator started'))!.jobId);
    expect(r.coordinator.stdout).toMatch(/resumed run faults from .*ckpt-\d{10}\.gfck \(step \d+\)/);
    for (const w of r.workers) {
      const lines = parseLog(w.stderr);
      expect(lines.filter((l) => l.msg === 'registered').length).toBeGreaterThanOrEqual(2);
      expect(lines.filter((l) => l.msg === 'job loaded')).toHaveLength(1);
      expect(lines.some((l) => l.msg === 'lost the connection to the coordinator; reconnecting with backoff')).toBe(true);
      expect(lines.some((l) => l.msg === 'connected to the coordinator again')).toBe(true);
    }
    const lastSteps = steps(r.runDir).map((s) => s.step as number);
    expect(lastSteps.at(-1)).toBe(TOTAL_STEPS);
    // metrics.jsonl reads as an uninterrupted run's: every step once, in order, every evaluation
    // once, and one record of the resume at the checkpoint's step.
    expect(lastSteps).toEqual(Array.from({ length: TOTAL_STEPS }, (_, i) => i + 1));
    const evals = readMetrics(r.runDir).filter((m) => m.type === 'eval').map((m) => `${m.split}@${m.step}`);
    expect(new Set(evals).size).toBe(evals.length);
    const resumes = readMetrics(r.runDir).filter((m) => m.type === 'resume');
    expect(resumes).toEqual([expect.objectContaining({ run: 'faults', from: expect.stringMatching(/^checkpoints\/ckpt-\d{10}\.gfck$/) })]);
    expect(resumes[0]!.step as number).toBeLessThanOrEqual(stepsBefore);
    expect(JSON.parse(readFileSync(join(r.runDir, 'summary.json'), 'utf8'))).toMatchObject({ resumes: 1 });

    const firstAccepted = second.find((l) => l.msg === 'first result accepted')!;
    const firstStep = steps(r.runDir).find((s) => (s.time as number) >= restartedAt)!;
    measured['coordinator SIGKILL → restarted coordinator listening'] = started!.time - killedAt;
    measured['coordinator restart (spawn) → listening'] = started!.time - restartedAt;
    measured['coordinator restart (spawn) → first worker registered again'] = second.find((l) => l.msg === 'worker registered')!.time - restartedAt;
    measured['coordinator restart (spawn) → first result accepted'] = firstAccepted.time - restartedAt;
    measured['coordinator restart (spawn) → first training step completed'] = (firstStep.time as number) - restartedAt;

    // Started again on the finished run directory: reported, not trained again.
    const again = await runCoordinatorProcess({ job: faultJob({ heartbeat: '300ms', lease: '3s' }), runDir: c.runDir });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`every run in ${c.runDir} is already done (faults); nothing to train`);
    expect(readMetrics(c.runDir).filter((m) => m.type === 'resume')).toHaveLength(1);
    expect(steps(c.runDir).map((s) => s.step as number).at(-1)).toBe(TOTAL_STEPS);
    expect(sha(c.runDir)).toBe(undisturbed);

    // Leases may change on resume; the seed may not.
    const other = await runCoordinatorProcess({ job: faultJob({ heartbeat: '300ms', lease: '3s' }, { seed: 8 }), runDir: c.runDir });
    expect(other.code, other.stderr).toBe(2);
    expect(other.stderr).toMatch(/run directory .* belongs to job 'faults-[0-9a-f]+' with a different config \(1 field differ: seed: 7 → 8\); refusing to resume it/);
  });

  it('gives a worker that joins mid-run the current parameters, and ends bit-identical', async () => {
    const c = await cluster({ job: faultJob({ heartbeat: '300ms', lease: '3s' }), workers: 1, env: INFO });
    await until('six training steps', () => steps(c.runDir).length >= 6, 30_000, c.output);
    // The job runs faster than a worker process starts (52 steps in about 3 s): the first worker
    // is paused while the second one starts and registers, so that the job is still mid-run when
    // it joins. Its next phase is then cut for two workers.
    c.workers[0]!.kill('SIGSTOP');
    const joinedAtStep = steps(c.runDir).length;
    c.addWorker();
    await until('the late worker registered', () => c.workerLog(1).find((l) => l.msg === 'registered'), 30_000, c.output);
    c.workers[0]!.kill('SIGCONT');
    const r = await c.wait(45_000);
    expect(r.exitCode, c.output()).toBe(0);
    expect(sha(r.runDir)).toBe(undisturbed);
    const late = parseLog(r.workers[1]!.stderr);
    expect(late.find((l) => l.msg === 'registered')).toBeDefined();
    const tasks = late.find((l) => l.msg === 'worker exited')!.tasks as number;
    expect(joinedAtStep).toBeLessThan(TOTAL_STEPS - 10);
    expect(tasks).toBeGreaterThan(0);
  });

  it('backs up a stalled (SIGSTOP) worker\'s micro-batch on an idle worker, ignores its late result after SIGCONT, and ends bit-identical', async () => {
    // A lease far longer than the stall: only the straggler path can move the task. Twice the
    // epochs of the other tests: catching a late result may take several stalls (each costs
    // steps, more of them on a loaded machine), so this job brings its own undisturbed reference.
    const job = faultJob({ heartbeat: '300ms', lease: '15s' }, { epochs: 8 } as Partial<JobInput>);
    const totalSteps = 2 * TOTAL_STEPS;
    const reference = await runCluster({ job, workers: 2 });
    expect(steps(reference.runDir)).toHaveLength(totalSteps);
    const c = await cluster({ job, workers: 2, env: DEBUG });
    await until('four training steps', () => steps(c.runDir).length >= 4, 30_000, c.output);
    const stalled = workerIdOf(c.coordinatorLog(), 'test-0')!;
    const straggler = (l: LogLine) => l.msg === 'straggler: task also handed to an idle worker; the first result wins' && l.holder === stalled;
    const lateFromStalled = (l: LogLine) => l.msg === 'late or duplicate result ignored' && l.workerId === stalled;
    // A worker stalled before it has its task's parameters drops the task as stale on waking
    // and sends no result: stall it again until one of its results arrives late. The stale
    // drop is logged, so a failed attempt is seen at once rather than waited out.
    let late: LogLine | undefined;
    for (let attempt = 0; attempt < 6 && !late; attempt++) {
      const { stoppedAt, held } = await stopHolding(c, 0, stalled, trainTask);
      const backup = await until('a straggler backup of the stalled worker', () => c.coordinatorLog().find((l) => straggler(l) && held.has(l.task as string)), 10_000, c.output);
      const stepsAtBackup = steps(c.runDir).length;
      await until('the stalled step to complete without it', () => steps(c.runDir).length > stepsAtBackup, 10_000, c.output);
      measured['worker SIGSTOP → its micro-batch backed up on an idle worker'] ??= backup.time - stoppedAt;
      const resumedAt = Date.now();
      c.workers[0]!.kill('SIGCONT');
      const droppedStale = (l: LogLine) => l.msg === 'task went stale before it started' && l.time >= resumedAt;
      const outcome = await within(() => c.coordinatorLog().find((l) => lateFromStalled(l) && l.time >= resumedAt) ?? c.workerLog(0).find(droppedStale), 3_000);
      if (outcome && lateFromStalled(outcome)) late = outcome;
      if (steps(c.runDir).length > totalSteps - 6) break;
    }
    const r = await c.wait(45_000);
    expect(r.exitCode, c.output()).toBe(0);
    expect(sha(r.runDir)).toBe(sha(reference.runDir));
    expect(late, c.output()).toBeDefined();
    const log = c.coordinatorLog();
    expect(log.filter(straggler).every((l) => (l.heldMs as number) >= 2000)).toBe(true);
    expect(log.some((l) => l.msg.startsWith('worker lease expired'))).toBe(false);
    expect(r.workers.map((w) => w.code)).toEqual([0, 0]);
  }, 150_000);

  it('checkpoints at a graceful stop; a corrupted newest checkpoint is skipped on resume with a line naming it, and the run ends bit-identical', async () => {
    const c = await cluster({ job: faultJob({ heartbeat: '300ms', lease: '3s' }, { checkpoint: { every_steps: 3, keep: 3 } }), workers: 2, env: INFO });
    await until('eight training steps', () => steps(c.runDir).length >= 8, 30_000, c.output);
    const termAt = Date.now();
    c.coordinator.kill('SIGTERM');
    const stopped = await c.coordinatorExited();
    measured['coordinator SIGTERM → checkpoint written and exited'] = Date.now() - termAt;
    expect(stopped.code, stopped.stderr).toBe(1);
    const written = /checkpoint written: (\S+)/.exec(stopped.stdout)?.[1];
    expect(written, stopped.stdout).toBeDefined();
    expect(stopped.stdout).toContain(`start the coordinator again on ${c.runDir} to resume it`);
    // The workers were not sent away: they wait for the coordinator to come back.
    expect(c.workers.map((w) => w.exitCode)).toEqual([null, null]);

    const files = ckptFiles(c.runDir);
    const newest = files.at(-1)!;
    expect(join(c.runDir, 'checkpoints', newest)).toBe(written);
    expect(files.length).toBeGreaterThanOrEqual(2);
    truncateSync(written!, Math.floor(statSync(written!).size / 2));

    const restartedAt = await c.restartCoordinator();
    const r = await c.wait(45_000);
    expect(r.exitCode, c.output()).toBe(0);
    expect(sha(r.runDir)).toBe(undisturbed);
    measured['coordinator restart after SIGTERM (spawn) → first result accepted'] = parseLog(r.coordinator.stderr).find((l) => l.msg === 'first result accepted')!.time - restartedAt;
    const skipped = parseLog(r.coordinator.stderr).find((l) => l.msg.startsWith(`checkpoint checkpoints/${newest} skipped`));
    expect(skipped, r.coordinator.stderr).toBeDefined();
    expect(skipped!.msg).toContain('checksum mismatch (truncated or corrupt)');
    expect(r.coordinator.stdout).toContain(`resumed run faults from ${join(c.runDir, 'checkpoints', files.at(-2)!)}`);
    expect(r.workers.map((w) => w.code)).toEqual([0, 0]);
  });

  it('ends a worker whose coordinator cannot be reached after --unreachable-timeout, with a line that says so', async () => {
    const port = await freePort();
    const never = await runWorkerProcess({ coordinator: `127.0.0.1:${port}`, args: ['--unreachable-timeout', '1500'], timeoutMs: 20_000 });
    expect(never.code).toBe(1);
    expect(never.stderr).toMatch(new RegExp(`worker: coordinator at 127\\.0\\.0\\.1:${port} unreachable for \\d+\\.\\ds \\(--unreachable-timeout 1500 ms.*\\); giving up`));
    // Node and tsx start in about a second; the worker itself gives up within a tenth of the limit.
    expect(never.wallMs).toBeLessThan(10_000);

    // Connected, then the coordinator dies for good while calls wait for it.
    const c = await cluster({ job: faultJob({ heartbeat: '300ms', lease: '3s' }), workers: 2, workerArgs: ['--unreachable-timeout', '2000'] });
    await until('three training steps', () => steps(c.runDir).length >= 3, 30_000, c.output);
    const killedAt = Date.now();
    c.coordinator.kill('SIGKILL');
    const exits = await Promise.all(c.workers.map((w) => new Promise<{ code: number | null; at: number }>((r) => (w.exitCode !== null ? r({ code: w.exitCode, at: Date.now() }) : w.once('exit', (code) => r({ code, at: Date.now() }))))));
    expect(exits.map((e) => e.code)).toEqual([1, 1]);
    expect(c.output()).toMatch(/worker: coordinator at 127\.0\.0\.1:\d+ unreachable for \d+\.\ds \(--unreachable-timeout 2000 ms.*\); giving up/);
    for (const e of exits) expect(e.at - killedAt).toBeLessThan(2000 + 1500);
    measured['coordinator gone for good → worker exits (--unreachable-timeout 2000)'] = Math.max(...exits.map((e) => e.at)) - killedAt;
  });
});

function ckptFiles(runDir: string): string[] {
  try {
    return readdirSync(join(runDir, 'checkpoints'))
      .filter((n) => /^ckpt-\d{10}\.gfck$/.test(n))
      .sort();
  } catch {
    return [];
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}
