/**
 * gradfleet in real containers: the image that deploy/docker/build-image.sh builds runs a
 * coordinator and two workers on a Docker network, the workers finding the coordinator by its
 * network alias (as pods find the Service). The coordinator answers gRPC health checks while the
 * job runs, exits 0 when it ends, and leaves the run directory on a mounted volume; the final
 * parameters are bit-identical to the same job run on this machine without containers.
 *
 * Skipped, with the reason printed, where no Docker daemon answers (scripts/docker-setup.sh
 * installs and starts one).
 */
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getContainerRuntimeClient, Network, Wait, type StartedNetwork, type StartedTestContainer } from 'testcontainers';
import { dockerUnavailable, GradfleetContainer } from './docker.js';
import { NODE_FLAGS } from '../../shared/node-flags.js';

// No Ryuk sidecar: it would be pulled from a registry. afterAll removes what the test started.
process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';

const run = promisify(execFile);
const REPO = resolve(import.meta.dirname, '../..');
const IMAGE = process.env.GRADFLEET_IMAGE ?? 'gradfleet:local';
const PORT = 7070;
const ALIAS = 'gradfleet-coordinator';
const STEPS = 10;
const BATCH = 64;
const TEST_SAMPLES = 100;

// A short job on the bundled digits: 1000 samples (800 train, 100 validation, 100 test),
// 10 steps of 64 in micro-batches of 16, so both workers get work.
const JOB = `
name: container-smoke
seed: 7
data:
  source: digits
  limit: 1000
  split: { validation: 0.1, test: 0.1 }
batch: { global: ${BATCH}, micro: 16 }
epochs: 1
max_steps: ${STEPS}
optimizer: { kind: adam, lr: 0.002 }
eval: { every: epoch, batch: 100 }
workers: { heartbeat: 500ms, lease: 5s }
`;

const skipReason = dockerUnavailable();
if (skipReason) console.warn(`[test/deploy/container] skipped: ${skipReason}. Run scripts/docker-setup.sh to enable the container tests.`);

/** Collects a container's output, for assertions and for failure messages. */
class LogSink {
  text = '';
  attach = (stream: NodeJS.ReadableStream) => {
    stream.on('data', (chunk: Buffer | string) => (this.text += chunk.toString()));
  };
  /** The parsed JSON log lines (pino) whose msg is `msg`. */
  records(msg: string): Record<string, unknown>[] {
    return this.text
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((r) => r.msg === msg);
  }
}

/** The container's exit code, waiting at most `ms` for it to exit. */
async function exitCode(container: StartedTestContainer, ms: number): Promise<number> {
  const client = await getContainerRuntimeClient();
  const waited = client.container.getById(container.getId()).wait() as Promise<{ StatusCode: number }>;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${container.getName()} still running after ${ms} ms`)), ms)));
  try {
    return (await Promise.race([waited, timeout])).StatusCode;
  } finally {
    clearTimeout(timer);
  }
}

/** deploy/docker/health-probe.mjs run on this machine: its exit code and the line it printed. */
async function probe(address: string, service?: string): Promise<{ code: number; line: string }> {
  const args = [join(REPO, 'deploy/docker/health-probe.mjs'), address, ...(service === undefined ? [] : [service])];
  try {
    const { stdout } = await run(process.execPath, args, { cwd: REPO, timeout: 20_000 });
    return { code: 0, line: stdout.trim() };
  } catch (e) {
    const err = e as { code?: number; stdout?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, line: (err.stdout ?? String(e)).trim() };
  }
}

function readSummary(runDir: string): Record<string, unknown> {
  const files = readdirSync(runDir).filter((f) => /^summary(-.+)?\.json$/.test(f));
  expect(files, `summary file in ${runDir}: ${readdirSync(runDir).join(', ')}`).toHaveLength(1);
  return JSON.parse(readFileSync(join(runDir, files[0]!), 'utf8')) as Record<string, unknown>;
}

const finalParams = (runDir: string) => JSON.parse(readFileSync(join(runDir, 'final-params.json'), 'utf8')) as { run: string; version: number; values: number; sha256: string }[];

describe.skipIf(skipReason !== undefined)(`gradfleet in containers (${IMAGE})`, () => {
  let work: string;
  let network: StartedNetwork | undefined;
  const containers: StartedTestContainer[] = [];

  beforeAll(() => {
    // A few seconds: a tarball of this checkout's files and runtime, imported (no registry).
    execFileSync('bash', [join(REPO, 'deploy/docker/build-image.sh'), IMAGE], { cwd: REPO, stdio: ['ignore', 'inherit', 'inherit'], timeout: 150_000 });
    work = mkdtempSync(join(tmpdir(), 'gradfleet-deploy-'));
    // The containers run as uid 1000 and write the run directory into this mount.
    chmodSync(work, 0o777);
    writeFileSync(join(work, 'job.yaml'), JOB);
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled(containers.map((c) => c.stop({ timeout: 2_000 })));
    await network?.stop();
    try {
      if (work) rmSync(work, { recursive: true, force: true });
    } catch (e) {
      // Files the containers wrote belong to uid 1000; a different unprivileged user may not delete them.
      console.warn(`[test/deploy/container] could not remove ${work}: ${(e as Error).message}`);
    }
  }, 60_000);

  it('trains a job with a coordinator and two worker containers found by network alias, serving gRPC health meanwhile', { timeout: 150_000 }, async () => {
    network = await new Network().start();
    const coordinatorLogs = new LogSink();
    const coordinator = await new GradfleetContainer(IMAGE)
      .withNetwork(network)
      .withNetworkAliases(ALIAS)
      .withBindMounts([
        { source: join(work, 'job.yaml'), target: '/etc/gradfleet/job.yaml', mode: 'ro' },
        { source: work, target: '/var/lib/gradfleet', mode: 'rw' },
      ])
      .withCommand(['node', ...NODE_FLAGS, '/app/bin/coordinator.mjs', 'start', '--config', '/etc/gradfleet/job.yaml', '--host', '0.0.0.0', '--port', String(PORT), '--run-dir', '/var/lib/gradfleet/run'])
      .withExposedPorts(PORT)
      // Docker runs the image's own probe inside the container; "healthy" means it saw SERVING.
      .withHealthCheck({ test: ['CMD', 'node', '/app/deploy/docker/health-probe.mjs', `127.0.0.1:${PORT}`], interval: 1_000, timeout: 5_000, retries: 60 })
      .withWaitStrategy(Wait.forHealthCheck())
      .withStartupTimeout(90_000)
      .withLogConsumer(coordinatorLogs.attach)
      .start();
    containers.push(coordinator);

    // No worker yet, so the job cannot have ended: the coordinator must be serving now.
    const address = `${coordinator.getHost()}:${coordinator.getMappedPort(PORT)}`;
    expect(await probe(address), coordinatorLogs.text).toEqual({ code: 0, line: `health-probe: ${address}: SERVING` });
    expect(await probe(address, 'gradfleet.v1.Coordinator')).toEqual({ code: 0, line: `health-probe: ${address} service=gradfleet.v1.Coordinator: SERVING` });
    const unknown = await probe(address, 'no.such.Service');
    expect(unknown.code).toBe(1);
    expect(unknown.line).toContain('NOT_FOUND');

    const workerLogs = [new LogSink(), new LogSink()];
    const workers = await Promise.all(
      workerLogs.map((logs, i) =>
        new GradfleetContainer(IMAGE)
          .withNetwork(network!)
          .withCommand(['node', ...NODE_FLAGS, '/app/bin/worker.mjs', 'start', '--coordinator', `${ALIAS}:${PORT}`, '--name', `worker-${i + 1}`])
          .withLogConsumer(logs.attach)
          .start(),
      ),
    );
    containers.push(...workers);

    const logsOnFailure = () => `coordinator:\n${coordinatorLogs.text.slice(-4000)}\nworker-1:\n${workerLogs[0]!.text.slice(-2000)}\nworker-2:\n${workerLogs[1]!.text.slice(-2000)}`;
    expect(await exitCode(coordinator, 90_000), logsOnFailure()).toBe(0);
    for (const w of workers) expect(await exitCode(w, 30_000), logsOnFailure()).toBe(0);

    // Both workers registered through the alias and computed micro-batches.
    const registered = coordinatorLogs.records('worker registered').map((r) => r.name);
    expect(registered.sort(), logsOnFailure()).toEqual(['worker-1', 'worker-2']);
    for (const logs of workerLogs) {
      const [exited] = logs.records('worker exited');
      expect(exited?.tasks, logsOnFailure()).toBeGreaterThan(0);
    }

    const runDir = join(work, 'run');
    const summary = readSummary(runDir);
    expect(summary.status).toBe('done');
    expect(summary.steps).toBe(STEPS);
    const test = summary.test as { count: number; accuracy: number };
    expect(test.count).toBe(TEST_SAMPLES);
    // Ten Adam steps on digits already beat chance (0.1) by far.
    expect(test.accuracy).toBeGreaterThan(0.3);
    const steps = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string; step: number; samples: number; loss: number })
      .filter((m) => m.type === 'step');
    expect(steps.map((s) => s.step)).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
    expect(steps.every((s) => s.samples === BATCH && Number.isFinite(s.loss))).toBe(true);
    const [params] = finalParams(runDir);
    expect(params?.version).toBe(STEPS);

    // The same job on this machine, one local worker, no containers: the same bits.
    const hostRun = join(work, 'host-run');
    const host = await run(process.execPath, [join(REPO, 'bin/coordinator.mjs'), 'start', '--config', join(work, 'job.yaml'), '--port', '0', '--local-workers', '1', '--run-dir', hostRun], { cwd: REPO, timeout: 90_000 });
    expect(host.stdout).toContain('job finished');
    expect(finalParams(hostRun)[0]?.sha256).toBe(params!.sha256);
  });
});
