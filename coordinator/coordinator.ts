/**
 * The coordinator's lifecycle:
 *
 *   run directory's job identity (refused if another job's) ─► load job ─► compile graphs,
 *   prepare data ─► runs ─► restore from checkpoints ─► gRPC server on host:port (+ health)
 *     ─► [spawn local workers] ─► lease timer ─► … every run done (or stopped) …
 *     ─► done: workers told `stop` ─► wait for them to leave (deadline) ─► shut down ─► exit 0 / 1
 *     ─► stopped (SIGTERM/SIGINT): checkpoint every run ─► shut down, workers keep trying to
 *        reconnect ─► exit 1; `coordinator start` on the same run directory resumes
 *
 * A run directory belongs to one job: its id and config fingerprint are kept in it
 * (job-identity.json), so a restarted coordinator keeps the job id its workers know. A run
 * directory whose runs are all done is reported and not trained again. Without a named run
 * directory, the newest runs/<name>-<time> of the same job config is resumed when it is
 * unfinished (run-dir/default.ts; `--fresh` starts a new one).
 *
 * Security (docs/security.md): the server speaks TLS or mutual TLS when given certificates, and
 * with a join token Register, GetJob and GetData must carry it (UNAUTHENTICATED otherwise); the
 * other calls are authorized by the worker id Register issued.
 * Local workers get a random token per start through their environment.
 *
 * The bound address and the run directory are printed on stdout (one line each), so scripts
 * and tests can find them; everything else goes to the log.
 */
import { createHash, randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { delimiter } from 'node:path';
import { Server } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from '../shared/log.js';
import { NODE_FLAGS, PROCESS_ENV } from '../shared/node-flags.js';
import { CoordinatorService } from '../shared/cluster/service.js';
import { datasetMeta, packageJob } from '../shared/cluster/job-wire.js';
import { DEFAULT_CHUNK_BYTES } from '../shared/cluster/tensor-stream.js';
import type { JobConfig } from './job/schema.js';
import { loadJob, type LoadedJob } from './job/load.js';
import { adversarialMeta } from './job/adversarial.js';
import { Scheduler } from './dispatch/scheduler.js';
import { WorkerRegistry } from './dispatch/worker-registry.js';
import { Arena } from '../shared/kernels/index.js';
import { TransferMeter } from './dispatch/transfer-meter.js';
import { widenConnectionWindows, widenStreamWindows } from './dispatch/http2-windows.js';
import { Dispatcher, type ClusterRun, type JobEnd } from './dispatch/dispatcher.js';
import { MAX_CONCURRENT_STREAMS, maxReceiveMessageBytes } from './dispatch/result-limits.js';
import { coordinatorHandlers } from './dispatch/server.js';
import { TrainingRun } from './run/training-run.js';
import { buildRuns, type RunContext } from './run/build-runs.js';
import { RunDirectory } from './run/outputs.js';
import { finalReportLines } from './run/final-report-files.js';
import { CoordinatorMetrics } from './observe/prometheus.js';
import { serveMetrics } from '../shared/observe/metrics-server.js';
import { startLiveDashboard, type LiveDashboard } from './observe/live-dashboard.js';
import { HyperSearch } from './search/hyper-search.js';
import { largestGlobalBatch } from './search/trial-config.js';
import { DEFAULT_RECONNECT } from '../worker/reconnect.js';
import { readIdentity, writeIdentity } from './run-dir/job-identity.js';
import { runDirectoryFor, runDirPolicy } from './run-dir/default.js';
import { ALLOWED_DIRS_ENV, allowedDirsFromEnv } from '../shared/security/paths.js';
import { lockRunDir } from './run-dir/lock.js';
import { findCheckpoints, hasCheckpointFiles, restoreRuns, writeStopCheckpoints, type ResumableRun } from './checkpoint/resume.js';
import { plannedSteps, terminalProgress } from './progress.js';
import { isLoopbackHost, serverCredentials, tlsMode, TLS_ENV, UPSTREAM_TLS_ENV, type TlsMaterial } from '../shared/security/tls.js';
import { joinTokenInterceptor, newJoinToken, TOKEN_ENV, TOKEN_FILE_ENV } from '../shared/security/join-token.js';

/** Longer than a worker's longest reconnect backoff, so that a worker asleep in it calls again before the coordinator closes. */
const WORKER_RECONNECT_GRACE_MS = DEFAULT_RECONNECT.maxMs + 1_000;

/** The service name health checks ask about (the empty name stands for the whole server). */
export const HEALTH_SERVICE = 'gradfleet.v1.Coordinator';

export interface CoordinatorOptions {
  job: JobConfig;
  /** Where the job came from, for logs ('embedded default job' or a file path). */
  source: string;
  baseDir: string;
  host: string;
  /** 0 picks a free port (printed). */
  port: number;
  /** Overrides the job's run_dir. */
  runDir?: string;
  /**
   * Folders besides the job file's own that the job's files (data, model, run_dir) may lie in:
   * `--allow-dir` (shared/security/paths.ts; $GRADFLEET_ALLOWED_DIRS is added to them).
   */
  allowDirs?: readonly string[];
  /** ONNX model files larger than this are refused (default: $GRADFLEET_MAX_MODEL_BYTES, else 2 GiB). */
  maxModelBytes?: number;
  /**
   * Without a run directory (runDir, the job's run_dir), a new runs/<name>-<time> even when the
   * newest one of this job config is unfinished (which is resumed otherwise; run-dir/default.ts).
   */
  fresh?: boolean;
  /** Worker processes to start on this machine, pointed at this coordinator. */
  localWorkers: number;
  /** Serve Prometheus metrics at http://metricsHost:metricsPort/metrics (0: any free port, printed); off when undefined. */
  metricsPort?: number;
  /** Default: `host`. */
  metricsHost?: string;
  /** Serve the live dashboard at http://uiHost:uiPort/ (0: any free port; printed); off when undefined. */
  uiPort?: number;
  /** Default: 127.0.0.1 (the dashboard shows the job to whoever can reach it). */
  uiHost?: string;
  log: Logger;
  /** Where the address and run-directory lines go (stdout). */
  print: (line: string) => void;
  /** Builds the runs of a job (default: buildRuns); tests may pass their own. */
  makeRuns?: (job: LoadedJob, ctx: RunContext) => ClusterRun[];
  /** Stops the job early when aborted (SIGINT/SIGTERM). */
  abort?: AbortSignal;
  /**
   * Called once the server listens and the runs are scheduled: from then on the run directory is
   * being trained, and an error is a stop to resume from rather than a job that cannot run.
   */
  onTrainingStarted?: () => void;
  now?: () => number;
  /** Serve TLS (mutual TLS when it carries a CA); plaintext when undefined (loopback only). */
  tls?: TlsMaterial;
  /**
   * The join token a worker must show to register and fetch the job and data (shared/security/join-token.ts). Without one, a start
   * with local workers makes a random one for them (so a local cluster is closed to others).
   */
  token?: string;
}

const WORKER_BIN = fileURLToPath(new URL('../bin/worker.mjs', import.meta.url));

/** Runs one job to its end; returns the process exit code (coordinator/cli.ts's COORDINATOR_EXIT). */
export async function runCoordinator(o: CoordinatorOptions): Promise<number> {
  const allowDirs = [...(o.allowDirs ?? []), ...allowedDirsFromEnv()];
  const runDir = runDirectoryFor(o.job, { runDir: o.runDir, fresh: o.fresh, log: o.log, print: o.print, jobRunDirPolicy: runDirPolicy(o.baseDir, allowDirs) });
  // One coordinator per run directory (run-dir/lock.ts); a SIGKILLed one leaves a stale lock,
  // which the next start takes over.
  const lock = lockRunDir(runDir, o.log);
  try {
    return await runJob(o, runDir);
  } finally {
    lock.release();
  }
}

async function runJob(o: CoordinatorOptions, runDir: string): Promise<number> {
  const log = o.log;
  const now = o.now ?? Date.now;
  const job = o.job;
  // Checked before the (slow) load, so that a run directory of another job is refused at once;
  // written after it, so that a job that fails to load does not claim the directory.
  const known = readIdentity(runDir, job, () => hasCheckpointFiles(runDir));
  const loaded = await loadJob(job, o.source, o.baseDir, { ...(o.allowDirs ? { allowDirs: o.allowDirs } : {}), ...(o.maxModelBytes !== undefined ? { maxModelBytes: o.maxModelBytes } : {}) });
  // Steps each run schedules: a bagging member trains on its bootstrap sample, round(sample_fraction · N) samples (plan/bootstrap.ts).
  const plan = plannedSteps(job, job.ensemble ? Math.round(job.ensemble.sample_fraction * loaded.trainIndices.length) : loaded.trainIndices.length);
  const progress = terminalProgress(plan);
  const scheduler = new Scheduler();
  // Prometheus' view (--metrics-port): step and evaluation lines as they are written, the pool,
  // bytes and task moves read from their owners when scraped.
  const metrics = o.metricsPort === undefined ? undefined : new CoordinatorMetrics({ workers: () => registry.list(), transfer: () => transfer.snapshot(), taskMoves: () => scheduler.taskMoves });
  const out = new RunDirectory(runDir, {
    onMetric: (line) => {
      progress?.update(line);
      metrics?.observe(line);
      dashboard?.observe(line);
    },
  });
  const jobId = known?.job_id ?? writeIdentity(runDir, job, `${job.name}-${randomBytes(4).toString('hex')}`).job_id;
  const registry = new WorkerRegistry({ leaseMs: job.workers.lease }, now());
  let dashboard: LiveDashboard | undefined;
  // Work a run hands over to finish after its last phase (the ensemble's scoring): awaited before exit.
  const deferred: { what: string; work: Promise<unknown> }[] = [];
  const defer = (what: string, work: Promise<unknown>) => deferred.push({ what, work });
  // Every run's parameters, optimizer state and gradient pieces, where the step kernels work on them.
  const arena = Arena.growable();
  const transfer = new TransferMeter();
  const ctx: RunContext = { out, arena, log, now, defer, workers: () => ({ registrations: registry.registrations, connected: registry.size }), transfer: () => transfer.snapshot(), ...(metrics || o.uiPort !== undefined ? { onMemberMetric: (line: Record<string, unknown>) => (metrics?.observe(line), dashboard?.observe(line)) } : {}) };
  // A search's trials are runs too, started as slots free up (search/hyper-search.ts); `runs` grows with them.
  const search = job.search ? new HyperSearch(loaded, ctx, (record) => dashboard?.observe(record)) : undefined;
  const runs: ClusterRun[] = search ? search.runs : (o.makeRuns ?? buildRuns)(loaded, ctx);
  const checkpoints = findCheckpoints(runDir, log);
  // Finished trials are results in search-state.json, not runs to restore.
  for (const name of search?.finishedRunNames ?? []) checkpoints.delete(name);
  const restored = restoreRuns(runs, checkpoints, log);
  for (const r of restored) o.print(`resumed run ${r.run.name} from ${r.from.path} (step ${r.from.contents.meta.globalStep}${r.run.done ? ', already done' : ''})`);
  if ((restored.length > 0 || search?.finished) && runs.every((r) => r.done) && (search?.finished ?? true)) {
    await awaitDeferred(deferred, DEFERRED_DEADLINE_MS, log);
    writeFinalParams(out, runs);
    const failed = runs.filter((r) => runFailed(r));
    o.print(`every run in ${runDir} is already done (${runs.map((r) => r.name).join(', ')}); nothing to train${failed.length > 0 ? `; failed runs: ${failed.map((r) => r.name).join(', ')}` : ''}`);
    o.print(`run directory: ${runDir}`);
    progress?.finish();
    // A run that failed stays failed: the same exit as when it failed (3), so a retry loop stops.
    return failed.length > 0 ? 3 : 0;
  }

  const pkg = packageJob(
    {
      jobId,
      name: job.name,
      compression: job.workers.compression,
      threads: job.workers.threads,
      chunkBytes: DEFAULT_CHUNK_BYTES,
      // Workers size their buffers by a step's micro-batches: a search's trials may use a larger global batch.
      microbatchesPerStep: Math.ceil(largestGlobalBatch(job, job.search) / job.batch.micro),
      dataset: datasetMeta(loaded.dataset),
      ...(job.augment ? { augment: job.augment } : {}),
      ...(job.adversarial ? { adversarial: adversarialMeta(job.adversarial, job.seed) } : {}),
    },
    loaded.training,
    loaded.evaluation,
    loaded.attack,
  );
  const dispatcher = new Dispatcher({
    jobId,
    arena,
    transfer,
    job: pkg,
    data: { features: loaded.dataset.features, labels: loaded.dataset.labels },
    runs,
    scheduler,
    registry,
    heartbeatMs: job.workers.heartbeat,
    maxWaitMs: Math.min(10_000, Math.floor(job.workers.lease / 2)),
    waitWarningMs: job.workers.wait_warning,
    now,
    log,
  });

  // Before the gRPC server: a metrics port that cannot be had stops the start cleanly.
  const metricsServer = metrics ? await serveMetrics(metrics.registry, o.metricsHost ?? o.host, o.metricsPort!) : undefined;
  const paramValues = loaded.training.params.reduce((a, p) => a + p.init.length, 0);
  if (o.uiPort !== undefined) {
    dashboard = await startLiveDashboard({
      host: o.uiHost ?? '127.0.0.1',
      port: o.uiPort,
      job: { name: job.name, jobId, runDir, parameters: paramValues, trainingSamples: loaded.trainIndices.length, plannedSteps: plan.totalSteps, epochs: plan.epochs, runs: runs.map((r) => r.name), startedAt: now() },
      registry,
      scheduler,
      log,
      now,
    });
  }
  // With local workers and no token given, a random one: local runs are authenticated too.
  const token = o.token ?? (o.localWorkers > 0 ? newJoinToken() : undefined);
  const server = new Server({
    ...(token ? { interceptors: [joinTokenInterceptor(token, log)] } : {}),
    // Limits from the job (coordinator/dispatch/result-limits.ts, docs/security-rpc.md): no
    // message larger than a chunk plus room for a header is buffered, and one connection opens
    // a bounded number of calls at once.
    'grpc.max_receive_message_length': maxReceiveMessageBytes(pkg.metadata.chunkBytes),
    'grpc.max_concurrent_streams': MAX_CONCURRENT_STREAMS,
  });
  widenStreamWindows(server, log);
  server.addService(CoordinatorService, coordinatorHandlers(dispatcher, log));
  const health = new HealthImplementation({ '': 'NOT_SERVING', [HEALTH_SERVICE]: 'NOT_SERVING' });
  health.addToServer(server);
  const port = await bind(server, `${o.host}:${o.port}`, o.tls);
  const security = { tls: tlsMode(o.tls), token: o.token ? 'required' : token ? 'generated for local workers' : 'none' };
  if (!o.tls && !isLoopbackHost(o.host)) log.warn({ host: o.host, ...security }, 'serving gRPC without TLS on an address other machines can reach: use --tls-cert/--tls-key/--tls-ca (docs/security.md)');
  widenConnectionWindows(server, log);
  const address = `${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}`;

  search?.attach((run, phase) => dispatcher.addRun(run, phase));
  dispatcher.start(new Map(restored.map((r) => [r.run.id, r.phase])));
  health.setStatus('', 'SERVING');
  health.setStatus(HEALTH_SERVICE, 'SERVING');
  o.print(`coordinator listening on ${address} (job ${jobId}, ${paramValues.toLocaleString('en-US')} parameters in ${loaded.training.params.length} tensors, ${loaded.trainIndices.length} training samples)`);
  o.print(`run directory: ${runDir}`);
  if (metricsServer) o.print(`metrics: ${metricsServer.url}`);
  if (dashboard) o.print(`dashboard: ${dashboard.url}`);
  o.onTrainingStarted?.();
  log.info({ jobId, address, security, source: o.source, runDir, localWorkers: o.localWorkers, resumedRuns: restored.length, nodeFlags: process.execArgv }, restored.length > 0 ? 'coordinator started (resumed)' : 'coordinator started');

  // Leases are checked at a tenth of their length, so a lost worker's tasks move on within
  // about one lease period of its last call.
  const tick = setInterval(() => dispatcher.tick(), Math.max(50, Math.min(500, Math.floor(job.workers.lease / 10))));
  const children = Array.from({ length: o.localWorkers }, (_, i) => spawnWorker(address, i, log, token, loaded.paths?.roots ?? []));
  const onAbort = () => dispatcher.finish({ ok: false, reason: 'coordinator stopped before the job ended', interrupted: true });
  o.abort?.addEventListener('abort', onAbort, { once: true });
  if (o.abort?.aborted) onAbort();

  let end: JobEnd;
  try {
    end = await dispatcher.finished;
  } finally {
    o.abort?.removeEventListener('abort', onAbort);
    progress?.finish();
  }

  health.setStatus('', 'NOT_SERVING');
  health.setStatus(HEALTH_SERVICE, 'NOT_SERVING');
  if (end.interrupted) return stopResumable(end);

  // Workers learn `stop` on their next call; give them time to hear it and leave.
  const leaveWaitMs = Math.max(5_000, 2 * job.workers.heartbeat + 2_000);
  const leaveDeadline = now() + leaveWaitMs;
  // Workers of an earlier coordinator (this one resumed) or ones that lost their connection may
  // be asleep in their reconnect backoff right now; they would wake to a closed port and wait
  // out their --unreachable-timeout. Listening a little longer lets them register and hear `stop`.
  const lingerUntil = restored.length > 0 || scheduler.taskMoves.lost > 0 ? now() + WORKER_RECONNECT_GRACE_MS : 0;
  while ((registry.size > 0 || now() < lingerUntil) && now() < leaveDeadline) await sleep(50);
  if (registry.size > 0) log.warn({ workers: registry.list().map((w) => w.id), waitedMs: leaveWaitMs }, 'workers did not leave in time; shutting down without them');
  clearInterval(tick);
  await Promise.all(children.map((c) => waitForExit(c, 10_000, log)));
  await shutdown(server, 5_000);
  await metricsServer?.close();

  const deferredOk = await awaitDeferred(deferred, DEFERRED_DEADLINE_MS, log);
  const failed = runs.filter((r) => runFailed(r));
  writeFinalParams(out, runs);
  const ok = end.ok && failed.length === 0 && deferredOk;
  const summaryLines = printFinalReport(runDir, o.print, log);
  const endLine = `${ok ? 'job finished' : 'job FAILED'}: ${end.reason}${failed.length > 0 ? `; failed runs: ${failed.map((r) => r.name).join(', ')}` : ''}`;
  // The page keeps the closing summary after the coordinator exits.
  dashboard?.end({ state: ok ? 'finished' : 'failed', reason: endLine, ...(summaryLines ? { summaryLines } : {}) });
  await dashboard?.close();
  o.print(endLine);
  o.print(`run directory: ${runDir}`);
  // A run that failed (diverged) is final: a rerun repeats the same arithmetic (exit 3). A crash
  // or failed ensemble scoring may be the machine's fault: exit 1, resumable.
  if (ok) return 0;
  return end.ok && deferredOk ? 3 : 1;

  /**
   * A graceful stop before the end: every unfinished run is checkpointed as it stands, local
   * workers are drained, and remote workers are left trying to reconnect (within their
   * --unreachable-timeout) to the coordinator that resumes this run directory.
   */
  async function stopResumable(stop: JobEnd): Promise<number> {
    const foundDir = new Map([...checkpoints.values()].map((c) => [c.contents.meta.run, c.dir]));
    const written = writeStopCheckpoints(runs, {
      activePhase: (runId) => dispatcher.activePhase(runId),
      // A single run writes into <run>/checkpoints (build-runs gives it the job's RunDirectory).
      dirOf: (run: ResumableRun) => run.checkpointDir ?? foundDir.get(run.name) ?? (runs.length === 1 ? out.path('checkpoints') : undefined),
      keep: job.checkpoint.keep,
      log,
    });
    for (const file of written) o.print(`checkpoint written: ${file}`);
    log.info({ files: written, workers: registry.size }, 'coordinator stopping: runs checkpointed; remote workers keep trying to reconnect until their --unreachable-timeout');
    clearInterval(tick);
    // Local workers that got the signal too (Ctrl-C reaches the terminal's whole process group)
    // drain by themselves; the others are sent SIGTERM after a short wait.
    await Promise.all(children.map((c) => waitForExit(c, 2_000, log)));
    await shutdown(server, 5_000);
    await metricsServer?.close();
    const stopLine = `job stopped before its end: ${stop.reason}; start the coordinator again on ${runDir} to resume it`;
    dashboard?.end({ state: 'stopped', reason: stopLine });
    await dashboard?.close();
    o.print(stopLine);
    o.print(`run directory: ${runDir}`);
    return 1;
  }
}

/** Whether a run ended in failure (a TrainingRun that stopped on non-finite steps, for one). */
function runFailed(r: ClusterRun): boolean {
  const s = (r as Partial<Pick<TrainingRun, 'summary'>>).summary;
  return typeof s === 'function' ? s.call(r).status === 'failed' : false;
}

/**
 * final-params.json: each run's parameter version and a SHA-256 of its parameters and buffers
 * (float32 bytes in graph order), so two runs can be compared for bit-identity at a glance.
 */
const DEFERRED_DEADLINE_MS = 10 * 60_000;

/** Waits for deferred work (with a deadline and a log line naming what is waited for); false if any failed or timed out. */
async function awaitDeferred(deferred: readonly { what: string; work: Promise<unknown> }[], deadlineMs: number, log: Logger): Promise<boolean> {
  let ok = true;
  for (const { what, work } of deferred) {
    log.info({ what, deadlineMs }, 'waiting for work that finishes the job');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), deadlineMs)));
    try {
      const r = await Promise.race([work.then(() => 'done' as const), timeout]);
      if (r === 'timeout') {
        ok = false;
        log.error({ what, deadlineMs }, 'gave up waiting for work that finishes the job');
      }
    } catch (e) {
      ok = false;
      log.error({ what, err: (e as Error).message }, 'work that finishes the job failed');
    } finally {
      clearTimeout(timer);
    }
  }
  return ok;
}

/** The job's closing summary (final-report.ts), printed and returned; a report that cannot be read never fails the job. */
function printFinalReport(runDir: string, print: (line: string) => void, log: Logger): string[] | undefined {
  try {
    const lines = finalReportLines(runDir);
    for (const line of lines) print(line);
    return lines;
  } catch (err) {
    log.warn({ err, runDir }, 'the final report could not be printed (summary.json or metrics.jsonl unreadable)');
    return undefined;
  }
}

function writeFinalParams(out: RunDirectory, runs: readonly ClusterRun[]): void {
  out.writeJson(
    'final-params.json',
    runs.map((r) => {
      const { version, params, buffers } = r.currentParams();
      const h = createHash('sha256');
      for (const t of [...params, ...buffers]) h.update(new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
      return { run: r.name, version, values: [...params, ...buffers].reduce((a, t) => a + t.length, 0), sha256: h.digest('hex') };
    }),
  );
}

function bind(server: Server, address: string, tls: TlsMaterial | undefined): Promise<number> {
  return new Promise((resolvePort, reject) => server.bindAsync(address, serverCredentials(tls), (err, port) => (err ? reject(new Error(`cannot listen on ${address}: ${err.message}`)) : resolvePort(port))));
}

function shutdown(server: Server, deadlineMs: number): Promise<void> {
  return new Promise((done) => {
    const force = setTimeout(() => {
      server.forceShutdown();
      done();
    }, deadlineMs);
    server.tryShutdown(() => {
      clearTimeout(force);
      done();
    });
  });
}

/** A local worker: plaintext over loopback, with the coordinator's join token in its environment (never on its command line). */
function spawnWorker(address: string, index: number, log: Logger, token: string | undefined, dataDirs: readonly string[]): ChildProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, ...PROCESS_ENV };
  // The coordinator's own workers may read (workers.data: local) where its job may.
  if (dataDirs.length > 0) env[ALLOWED_DIRS_ENV] = dataDirs.join(delimiter);
  // The coordinator's own security settings are not the worker's (its certificate is a server's).
  for (const k of [TOKEN_ENV, TOKEN_FILE_ENV, ...Object.values(TLS_ENV), ...Object.values(UPSTREAM_TLS_ENV)]) delete env[k];
  if (token) env[TOKEN_ENV] = token;
  const child = spawn(process.execPath, [...NODE_FLAGS, WORKER_BIN, 'start', '--coordinator', address, '--name', `local-${index}`], { stdio: ['ignore', 'inherit', 'inherit'], env });
  child.on('exit', (code, signal) => log.info({ worker: `local-${index}`, pid: child.pid, code, signal }, 'local worker exited'));
  child.on('error', (err) => log.error({ err, worker: `local-${index}` }, 'local worker could not start'));
  return child;
}

/** Waits for a child to exit; after `ms` it gets SIGTERM, and SIGKILL `ms` later. */
async function waitForExit(child: ChildProcess, ms: number, log: Logger): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    if (await Promise.race([exited.then(() => true), sleep(ms).then(() => false)])) return;
    log.warn({ pid: child.pid, signal }, 'local worker still running; signalling it');
    child.kill(signal);
  }
  await Promise.race([exited, sleep(ms)]);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
