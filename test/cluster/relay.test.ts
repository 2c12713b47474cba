/**
 * Relays (coordinator/relay/), with real processes: a coordinator, relays started with
 * `coordinator relay --upstream <coordinator>`, and unmodified workers connected to the relays.
 * A two-level tree gives the bits one worker gives (the relays' sums are nodes of the step's
 * fixed reduction tree), also with augmentation and adversarial training and scoring, and a job a
 * relay cannot serve (an ensemble) is refused in words.
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../shared/node-flags.js';
import type { JobInput } from '../../coordinator/job/schema.js';
import { readFinalParams, readMetrics, runCluster, runWorkerProcess, startCluster, tinyJob } from './harness.js';

const COORDINATOR_BIN = join(resolve(fileURLToPath(new URL('../..', import.meta.url))), 'bin/coordinator.mjs');

interface RelayProcess {
  address: string;
  /** Resolves with the exit code and output once the relay exits (deadline `timeoutMs`). */
  exited(timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }>;
  kill(): void;
}

/** Starts `coordinator relay` against `upstream`; resolves once it prints the address its workers connect to. */
function startRelay(upstream: string): Promise<RelayProcess> {
  const child = spawn(process.execPath, [...NODE_FLAGS, COORDINATOR_BIN, 'relay', '--upstream', upstream, '--port', '0', '--host', '127.0.0.1'], {
    env: { ...process.env, GRADFLEET_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return new Promise((resolveRelay, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the relay did not print its address within 20 s\n${stdout}\n${stderr}`));
    }, 20_000);
    const check = () => {
      const m = /relay listening on (\S+)/.exec(stdout);
      if (!m) return;
      clearTimeout(timer);
      resolveRelay({
        address: m[1]!,
        async exited(timeoutMs) {
          let t: NodeJS.Timeout | undefined;
          const code = await Promise.race([exit, new Promise<'timeout'>((r) => (t = setTimeout(() => r('timeout'), timeoutMs)))]);
          clearTimeout(t);
          if (code === 'timeout') {
            child.kill('SIGKILL');
            throw new Error(`the relay did not exit within ${timeoutMs} ms\n${stdout}\n${stderr.slice(-3000)}`);
          }
          return { code, stdout, stderr };
        },
        kill: () => child.kill('SIGKILL'),
      });
    };
    child.stdout.on('data', check);
    void exit.then(() => {
      clearTimeout(timer);
      reject(new Error(`the relay exited before listening\n${stdout}\n${stderr}`));
    });
  });
}

/**
 * The job on one worker, then through a coordinator with two relays and `perRelay` workers behind
 * each; every process must exit 0. Gives both run directories and the relays' output.
 */
async function directAndRelayed(job: JobInput, perRelay: number): Promise<{ direct: string; relayed: string; relayEnds: { stdout: string }[] }> {
  const direct = await runCluster({ job, workers: 1, timeoutMs: 40_000 });
  expect(direct.exitCode, direct.coordinator.stderr.slice(-3000)).toBe(0);
  const cluster = await startCluster({ job, workers: 0 });
  const relays: RelayProcess[] = [];
  try {
    relays.push(...(await Promise.all([startRelay(cluster.address), startRelay(cluster.address)])));
    const workers = relays.flatMap((r) => Array.from({ length: perRelay }, () => runWorkerProcess({ coordinator: r.address, timeoutMs: 50_000 })));
    const result = await cluster.wait(50_000);
    expect(result.exitCode, cluster.output()).toBe(0);
    const relayEnds = await Promise.all(relays.map((r) => r.exited(15_000)));
    // The coordinator ended the job: each relay exits 0 after its workers computed its tasks.
    for (const r of relayEnds) expect(r.code, r.stderr.slice(-3000)).toBe(0);
    for (const w of await Promise.all(workers)) expect(w.code, w.stderr.slice(-3000)).toBe(0);
    return { direct: direct.runDir, relayed: result.runDir, relayEnds };
  } finally {
    for (const r of relays) r.kill();
    cluster.kill();
  }
}

describe('relays (two-level aggregation)', () => {
  it('a coordinator, two relays and two workers behind each end with the parameters one worker gives, bit for bit', async () => {
    const { direct, relayed, relayEnds } = await directAndRelayed(tinyJob({ name: 'relayed' }), 2);
    for (const r of relayEnds) expect(r.stdout).toMatch(/relay finished: every run is done \(relayed\) \(from its workers: [1-9]\d* results/);
    const [viaRelays] = readFinalParams(relayed);
    const [oneWorker] = readFinalParams(direct);
    expect(viaRelays!.version).toBeGreaterThan(0);
    expect(viaRelays).toEqual(oneWorker);
  });

  it('relays augmentation, adversarial training and attack scores: the bits and figures one worker gives', async () => {
    const job = tinyJob({
      name: 'relayed-adversarial',
      augment: { shift: { max_pixels: 2, p: 0.5 }, rotate: { max_degrees: 10, p: 0.5 } },
      adversarial: { method: 'fgsm', epsilon: 0.1, ratio: 0.5, range: [0, 1], eval_steps: 3 },
    } as never);
    const { direct, relayed } = await directAndRelayed(job, 1);
    expect(readFinalParams(relayed)).toEqual(readFinalParams(direct));
    const attacks = (runDir: string) => readMetrics(runDir).filter((m) => m.type === 'eval').map((m) => ({ split: m.split, attacks: m.attacks }));
    const viaRelays = attacks(relayed);
    expect(viaRelays.filter((e) => e.attacks !== undefined)).toHaveLength(viaRelays.length);
    expect(viaRelays).toEqual(attacks(direct));
  });

  it('a relay refuses an ensemble job: exit 1 with a message that names the reason', async () => {
    const cluster = await startCluster({ job: tinyJob({ name: 'bagged', ensemble: { members: 2 } }), workers: 0 });
    let relay: RelayProcess | undefined;
    try {
      relay = await startRelay(cluster.address);
      // The relay sees the job's second run when its second task comes, after its worker computed the first.
      const worker = runWorkerProcess({ coordinator: relay.address, args: ['--unreachable-timeout', '2000'], timeoutMs: 40_000 });
      const end = await relay.exited(40_000);
      expect(end.code, end.stderr.slice(-3000)).toBe(1);
      expect(end.stderr).toContain("relay: job 'bagged' has more than one run (a task of run 1 came; a plain job has only run 0): it is an ensemble (`ensemble:` in the job file), and a relay serves jobs of one run only.");
      // Its worker is not told that the job ended: it gives up on the relay, as on a coordinator gone away.
      expect((await worker).code).toBe(1);
    } finally {
      relay?.kill();
      cluster.kill();
    }
  });
});
