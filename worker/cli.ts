/**
 * `worker start --coordinator host:port [--device cpu|cuda] [--threads N] [--name NAME] [--data-root DIR]
 *   [--tls-ca FILE [--tls-cert FILE --tls-key FILE]] [--token-file FILE]`
 *
 * With --tls-ca the worker connects over TLS and verifies the coordinator against that CA; with
 * --tls-cert/--tls-key it also presents a client certificate (mutual TLS). The join token
 * (--token-file, or $GRADFLEET_JOIN_TOKEN) goes with Register, GetJob and GetData; a coordinator that refuses it
 * (UNAUTHENTICATED) ends the worker at once with exit 1 and the reason.
 *
 * A worker needs only the coordinator's address: it receives the job, the graphs and the data
 * (or, for a job with `workers.data: local`, reads the data itself, under --data-root if given).
 * It reads only under its own roots (--data-root, --allow-dir, $GRADFLEET_ALLOWED_DIRS,
 * /usr/share/datasets): a coordinator cannot make it read any other file (docs/security-inputs.md).
 * SIGTERM (or SIGINT) drains it: the task in hand is finished (or handed back), then it leaves.
 * A coordinator that goes away is waited for (retries with bounded backoff, logged); after
 * --unreachable-timeout without reaching it the worker exits 1 with a line that says so.
 *
 * Exit codes: 0 the coordinator ended the job (or sent the worker away); 1 the worker failed or
 * gave up on the coordinator; 128 + the signal's number (143 SIGTERM, 130 SIGINT) when a signal
 * drained it before the job ended. A Kubernetes Job counts a pod that exits 0 as work done and
 * starts no new pods after one, so only the end of the job may exit 0.
 */
import { constants } from 'node:os';
import { Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { serveMetrics } from '../shared/observe/metrics-server.js';
import { WorkerMetrics } from './observe/prometheus.js';
import { createLogger, LOG_FORMATS, LOG_FORMAT_ENV } from '../shared/log.js';
import { DEVICE_KINDS } from '../shared/engine/registry.js';
import { Worker } from './loop.js';
import { ALLOWED_DIRS_ENV, DEFAULT_ALLOWED_DIRS } from '../shared/security/paths.js';
import { clientTlsCaOption, clientTlsCertOption, clientTlsFrom, clientTlsKeyOption, tokenFileOption, tokenFrom } from '../shared/security/cli-options.js';

function positive(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${flag} must be a positive integer, got '${v}'`);
    return n;
  };
}

/** A TCP port to listen on: 0 (any free one) to 65535. */
function port(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`${flag} must be a port number (0 to 65535), got '${v}'`);
    return n;
  };
}

export function buildWorkerProgram(onDone: (code: number) => void): Command {
  const program = new Command('worker').description('a gradfleet worker: computes micro-batch gradients for a coordinator').showHelpAfterError();
  program
    .command('start')
    .description('connect to a coordinator and compute until the job ends')
    .requiredOption('--coordinator <host:port>', "the coordinator's address")
    .addOption(new Option('--device <kind>', 'execution device (cuda falls back to cpu, loudly, when unavailable)').choices(DEVICE_KINDS).default('cpu' as const))
    .option('--threads <n>', "onnxruntime intra-op threads (default: the job's workers.threads)", positive('--threads'))
    .option('--name <name>', 'name in the coordinator\'s logs (default: host:pid)')
    .option('--data-root <dir>', 'for jobs with workers.data: local: the folder the job\'s relative data paths resolve against here, and the only folder (with --allow-dir) they may reach (default: relative to the coordinator\'s job folder, which must then lie under an --allow-dir)')
    .option('--allow-dir <dir>', `for jobs with workers.data: local: another folder the data may lie in (repeatable; also $${ALLOWED_DIRS_ENV}, separated by ':'). The worker reads only under --data-root, these and ${DEFAULT_ALLOWED_DIRS.join(', ')}, never where the coordinator says`, (v: string, all: string[]) => [...all, v], [] as string[])
    .addOption(new Option('--log-format <format>', 'log lines: json, pretty (readable), or auto: pretty on a terminal, json otherwise (default: $GRADFLEET_LOG_FORMAT, else auto)').choices(LOG_FORMATS))
    .option('--unreachable-timeout <ms>', 'exit with an error after the coordinator was unreachable this long', positive('--unreachable-timeout'), 120_000)
    .option('--metrics-port <n>', "serve this worker's Prometheus metrics at http://<metrics-host>:<n>/metrics (0: any free port, printed; default: off)", port('--metrics-port'))
    .option('--metrics-host <host>', 'address the metrics endpoint listens on', '127.0.0.1')
    .addOption(clientTlsCaOption())
    .addOption(clientTlsCertOption())
    .addOption(clientTlsKeyOption())
    .addOption(tokenFileOption())
    .action(async (opts) => {
      if (opts.logFormat) process.env[LOG_FORMAT_ENV] = opts.logFormat;
      // Bad TLS files or token: one line naming the flag and file, before any connection.
      const tls = clientTlsFrom(opts);
      const token = tokenFrom(opts);
      const log = createLogger('worker').child({ name: opts.name });
      const metrics = opts.metricsPort === undefined ? undefined : new WorkerMetrics();
      const metricsServer = metrics ? await serveMetrics(metrics.registry, opts.metricsHost, opts.metricsPort!) : undefined;
      if (metricsServer) process.stdout.write(`metrics: ${metricsServer.url}\n`);
      const worker = new Worker({ coordinator: opts.coordinator, device: opts.device, threads: opts.threads, name: opts.name, log, unreachableMs: opts.unreachableTimeout, dataRoot: opts.dataRoot, allowDirs: opts.allowDir, security: { ...(tls ? { tls } : {}), ...(token ? { token } : {}) }, ...(metrics ? { observer: metrics } : {}) });
      let signals = 0;
      const onSignal = (signal: NodeJS.Signals) => {
        // The first signal drains; a second one ends the process at once.
        if (++signals > 1) process.exit(130);
        worker.stop(signal);
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      const code = await worker.run();
      await metricsServer?.close();
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      // Giving up on the coordinator is said in plain words too, not only in the JSON log.
      if (worker.failure) process.stderr.write(`worker: ${worker.failure}\n`);
      const signal = worker.stoppedBecause as NodeJS.Signals | undefined;
      onDone(code === 0 && signal !== undefined && signal in constants.signals ? 128 + constants.signals[signal] : code);
    });
  return program;
}

/** Parses argv and runs the command; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  let code = 0;
  try {
    await buildWorkerProgram((c) => (code = c)).parseAsync(argv);
  } catch (e) {
    process.stderr.write(`worker: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  return code;
}
