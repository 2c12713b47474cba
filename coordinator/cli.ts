/**
 * `coordinator start [--config job.yaml] [--port N] [--host H] [--local-workers N] [--run-dir D | --fresh]`
 *
 * Without --config the embedded default job runs (the default MLP on the bundled digits, with
 * early stopping). `--local-workers N` also starts N worker processes on this machine, so one
 * command runs a whole local cluster.
 *
 * Started on a run directory that holds checkpoints of the same job, it resumes (the newest good
 * checkpoint of each run); a run directory of another job config is refused. Without --run-dir
 * or the job's run_dir, the newest runs/<name>-<time> of the same job config is resumed when it
 * is unfinished (so the same command resumes after the head node died); otherwise, or with
 * --fresh, a new runs/<name>-<time> is created. --fresh with --run-dir is a usage error (exit 2).
 * SIGTERM or SIGINT stops the job gracefully: every unfinished run is checkpointed first, and
 * remote workers keep trying to reconnect. A second signal ends the process at once.
 *
 * Exit codes (COORDINATOR_EXIT; deploy/k8s/base/coordinator-job.yaml's podFailurePolicy keys on
 * them): 0 every run is done; 1 stopped before the end, resumable (a signal, a crash while
 * training); 2 the job cannot run (anything that goes wrong before training
 * starts: the command line, the job file, a refused run directory, an op without a gradient
 * rule, the address to listen on), so running it again as it is cannot help; 3 the job ended
 * but a run failed (diverged), which a rerun repeats; 130 a second signal.
 *
 * Files named by the job (data, model spec, ONNX model, run_dir) must lie under the job file's
 * folder, an `--allow-dir DIR` (repeatable; $GRADFLEET_ALLOWED_DIRS) or /usr/share/datasets; a
 * job's run_dir under runs/, the job's folder or an --allow-dir. ONNX files are checked before
 * use (--max-model-bytes). Both are exit 2 (docs/security-inputs.md).
 *
 * Security (docs/security.md): `--tls-cert FILE --tls-key FILE` serves TLS, adding `--tls-ca FILE`
 * requires client certificates signed by that CA (mutual TLS); `--token-file FILE` (or
 * $GRADFLEET_JOIN_TOKEN) makes every call but health checks carry the join token. Each file flag
 * has an environment variable (GRADFLEET_TLS_CERT, GRADFLEET_TLS_KEY, GRADFLEET_TLS_CA,
 * GRADFLEET_TOKEN_FILE). A file that cannot be used is exit 2, before anything listens.
 *
 * `coordinator relay --upstream HOST:PORT [--host H] [--port P]` runs a relay (relay/relay.ts):
 * one worker of the upstream coordinator and a coordinator for its own workers, which connect to
 * it with `worker start --coordinator <relay>`. Its exit codes are a worker's (0 the upstream
 * ended the job, 1 failed, 128 + signal drained), plus 2 for a bad command line.
 */
import { constants } from 'node:os';
import { Command, CommanderError, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { createLogger, LOG_FORMATS, LOG_FORMAT_ENV } from '../shared/log.js';
import { readJobFile, parseJob } from './job/load.js';
import { ALLOWED_DIRS_ENV, DEFAULT_ALLOWED_DIRS } from '../shared/security/paths.js';
import { MAX_MODEL_BYTES_ENV } from '../shared/onnx/check.js';
import { defaultJob } from './job/default-job.js';
import { runCoordinator } from './coordinator.js';
import { Relay } from './relay/relay.js';
import {
  serverTlsCaOption,
  serverTlsCertOption,
  serverTlsFrom,
  serverTlsKeyOption,
  tokenFileOption,
  tokenFrom,
  upstreamTlsCaOption,
  upstreamTlsCertOption,
  upstreamTlsFrom,
  upstreamTlsKeyOption,
} from '../shared/security/cli-options.js';

/** Exit codes of `coordinator start`. */
export const COORDINATOR_EXIT = {
  /** Every run of the job is done (now, or already in the run directory). */
  done: 0,
  /**
   * Stopped before the end: SIGTERM/SIGINT (after a final checkpoint), or an error once training
   * had started (a crash, a failed ensemble scoring). Starting again on the same run directory resumes.
   */
  stopped: 1,
  /**
   * The job cannot run as given, so a retry cannot help: a bad command line, an invalid or
   * unreadable job file, a run directory of another job config, a model op without a gradient
   * rule, an address it cannot listen on. Anything thrown before training starts.
   */
  cannotRun: 2,
  /**
   * The job ran to its end but a run failed (its gradients stayed non-finite for
   * max_consecutive_skips steps): final, and running it again repeats the same arithmetic.
   */
  runFailed: 3,
  /** A second SIGTERM/SIGINT ended the process without waiting for the checkpoint. */
  secondSignal: 130,
} as const;

const EXIT_CODES_HELP = `
Exit codes:
  0    every run is done (now, or already in the run directory)
  1    stopped before the end: SIGTERM/SIGINT (after a final checkpoint), or an error while
       training; start it again on the same run directory to resume
  2    the job cannot run: bad command line, invalid or unreadable job file, a run directory of
       another job config, an op without a gradient rule, an address it cannot listen on
  3    the job ended but a run failed: its gradients stayed non-finite for max_consecutive_skips
       steps (lower the learning rate, clip); running it again repeats the same arithmetic
  130  a second signal ended it at once`;

const RELAY_EXIT_CODES_HELP = `
Exit codes (a worker's):
  0    the upstream coordinator ended the job (the relay's workers were told to stop)
  1    the relay failed: the upstream was unreachable for --unreachable-timeout, or the job cannot
       be relayed (a job with ensemble: trains several runs; a relay serves jobs of one run)
  2    a bad command line, or an address it cannot listen on
  143  SIGTERM drained it (130: SIGINT) before the job ended; its workers keep trying to reach it`;

/** An error thrown after training started: exit 1 (resumable), not 2. */
class ErrorWhileTraining extends Error {
  override name = 'ErrorWhileTraining';
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
  }
}

function integer(flag: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${flag} must be an integer >= ${min}, got '${v}'`);
    return n;
  };
}

/**
 * The `coordinator` command. `run` runs the job (runCoordinator; tests may pass their own) and
 * `onDone` receives its exit code.
 */
export function buildCoordinatorProgram(onDone: (code: number) => void, run: typeof runCoordinator = runCoordinator): Command {
  const program = new Command('coordinator').description('the gradfleet coordinator: serves a training job to workers over gRPC').showHelpAfterError();
  // Usage errors throw (CommanderError) instead of exiting 1, so that main() can exit 2 for
  // them; set before .command() so that the subcommand inherits it.
  program.exitOverride();
  program
    .command('start')
    .description('run a job: compile its graphs, serve them, schedule micro-batches, write the run directory')
    .option('--config <file>', 'job file (YAML); without it the embedded default job runs')
    .option('--port <n>', 'port to listen on (0: any free port, printed)', integer('--port', 0), 7070)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--local-workers <n>', 'also start this many worker processes on this machine', integer('--local-workers', 0), 0)
    .option('--metrics-port <n>', 'serve Prometheus metrics at http://<metrics-host>:<n>/metrics (0: any free port, printed; default: off)', integer('--metrics-port', 0))
    .option('--metrics-host <host>', 'address the metrics endpoint listens on (default: --host)')
    .option('--ui-port <n>', 'serve the live dashboard at http://<ui-host>:<n>/ (0: any free port; a taken port falls back to a free one; the URL is printed; default: off)', integer('--ui-port', 0))
    .option('--ui-host <host>', 'address the dashboard listens on (default: 127.0.0.1, this machine only)')
    .option('--run-dir <dir>', "where outputs go (default: the job's run_dir, else the newest runs/<name>-<time> of this job config if unfinished, else a new one); one holding checkpoints of this job is resumed")
    .addOption(new Option('--log-format <format>', 'log lines: json, pretty (readable), or auto: pretty on a terminal, json otherwise (default: $GRADFLEET_LOG_FORMAT, else auto)').choices(LOG_FORMATS))
    .option('--retrain-best', "for a job with search: after the last trial, retrain the best trial's hyperparameters on training + validation data and score the test split once (search.retrain_best)")
    .option('--fresh', 'always start a new runs/<name>-<time>, even when an unfinished one of this job config would be resumed (not with --run-dir)')
    .option('--allow-dir <dir>', `another folder the job's files (data, model spec, ONNX model, run_dir) may lie in, besides the job file's own folder and ${DEFAULT_ALLOWED_DIRS.join(', ')} (repeatable; also $${ALLOWED_DIRS_ENV}, separated by ':')`, (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--max-model-bytes <n>', `refuse ONNX model files larger than this (default: $${MAX_MODEL_BYTES_ENV}, else 2 GiB)`, integer('--max-model-bytes', 1))
    .addOption(serverTlsCertOption())
    .addOption(serverTlsKeyOption())
    .addOption(serverTlsCaOption())
    .addOption(tokenFileOption())
    .addHelpText('after', EXIT_CODES_HELP)
    .action(async (opts, command) => {
      // Unusable TLS files or token: one line naming the flag and file, before anything listens (exit 2).
      const tls = serverTlsFrom(opts);
      const token = tokenFrom(opts);
      if (tls && opts.localWorkers > 0) command.error(`error: --local-workers starts plaintext workers over loopback; they cannot join a TLS coordinator (${opts.tlsCert}). Start TLS workers with \`worker start --tls-ca …\` instead`, { exitCode: COORDINATOR_EXIT.cannotRun, code: 'gradfleet.tlsWithLocalWorkers' });
      if (opts.fresh && opts.runDir !== undefined) command.error(`error: --fresh starts a new timestamped run directory under runs/; it cannot be combined with --run-dir (${opts.runDir})`, { exitCode: COORDINATOR_EXIT.cannotRun, code: 'gradfleet.freshWithRunDir' });
      if (opts.logFormat) process.env[LOG_FORMAT_ENV] = opts.logFormat; // the local workers write the same way
      const log = createLogger('coordinator');
      const { config, baseDir, source } = opts.config
        ? { ...readJobFile(opts.config), source: opts.config }
        : { config: parseJob(defaultJob(), 'embedded default job'), baseDir: process.cwd(), source: 'embedded default job' };
      if (opts.retrainBest) {
        if (!config.search) return command.error(`error: --retrain-best retrains the best trial of a search, but ${source} has no search: block`, { exitCode: COORDINATOR_EXIT.cannotRun, code: 'gradfleet.retrainWithoutSearch' });
        config.search.retrain_best = true;
      }
      const abort = new AbortController();
      let signals = 0;
      const onSignal = (signal: NodeJS.Signals) => {
        // The first signal stops the job gracefully; a second one ends the process at once.
        if (++signals > 1) process.exit(COORDINATOR_EXIT.secondSignal);
        log.warn({ signal }, 'stopping the job');
        abort.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      let training = false;
      let code: number;
      try {
        code = await run({
          job: config,
          source,
          baseDir,
          host: opts.host,
          port: opts.port,
          runDir: opts.runDir,
          fresh: opts.fresh,
          allowDirs: opts.allowDir,
          ...(opts.maxModelBytes !== undefined ? { maxModelBytes: opts.maxModelBytes } : {}),
          localWorkers: opts.localWorkers,
          ...(opts.metricsPort !== undefined ? { metricsPort: opts.metricsPort } : {}),
          ...(opts.metricsHost !== undefined ? { metricsHost: opts.metricsHost } : {}),
          ...(opts.uiPort !== undefined ? { uiPort: opts.uiPort } : {}),
          ...(opts.uiHost !== undefined ? { uiHost: opts.uiHost } : {}),
          ...(tls ? { tls } : {}),
          ...(token ? { token } : {}),
          log,
          print: (line) => process.stdout.write(`${line}\n`),
          abort: abort.signal,
          onTrainingStarted: () => (training = true),
        });
      } catch (e) {
        // Checkpoints written so far stay valid: a restart resumes from them.
        throw training ? new ErrorWhileTraining(e) : e;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      onDone(code);
    });
  program
    .command('relay')
    .description("a relay (hierarchical aggregation): one worker of the upstream coordinator that hands each of its tasks to its own workers, adds their results and uploads the sum; its workers connect to it as to a coordinator")
    .requiredOption('--upstream <host:port>', "the upstream coordinator's (or another relay's) address")
    .option('--port <n>', 'port its own workers connect to (0: any free port, printed)', integer('--port', 0), 7071)
    .option('--host <host>', 'address to listen on for its own workers', '127.0.0.1')
    .addOption(new Option('--log-format <format>', 'log lines: json, pretty (readable), or auto: pretty on a terminal, json otherwise (default: $GRADFLEET_LOG_FORMAT, else auto)').choices(LOG_FORMATS))
    .option('--unreachable-timeout <ms>', 'exit with an error after the upstream was unreachable this long', integer('--unreachable-timeout', 1), 120_000)
    .addOption(serverTlsCertOption())
    .addOption(serverTlsKeyOption())
    .addOption(serverTlsCaOption())
    .addOption(upstreamTlsCaOption())
    .addOption(upstreamTlsCertOption())
    .addOption(upstreamTlsKeyOption())
    .addOption(tokenFileOption()) // required from its workers and sent upstream
    .addHelpText('after', RELAY_EXIT_CODES_HELP)
    .action(async (opts) => {
      if (opts.logFormat) process.env[LOG_FORMAT_ENV] = opts.logFormat;
      const tls = serverTlsFrom(opts);
      const upstreamTls = upstreamTlsFrom(opts);
      const token = tokenFrom(opts);
      const log = createLogger('relay').child({ upstream: opts.upstream });
      const relay = new Relay({ upstream: opts.upstream, host: opts.host, port: opts.port, unreachableMs: opts.unreachableTimeout, ...(tls ? { tls } : {}), ...(upstreamTls ? { upstreamTls } : {}), ...(token ? { token } : {}), log, print: (line) => process.stdout.write(`${line}\n`) });
      const address = await relay.listen();
      process.stdout.write(`relay listening on ${address} (upstream ${opts.upstream})\n`);
      let signals = 0;
      const onSignal = (signal: NodeJS.Signals) => {
        // The first signal drains (the task in hand is finished by the relay's workers); a second one ends the process at once.
        if (++signals > 1) process.exit(COORDINATOR_EXIT.secondSignal);
        log.warn({ signal }, 'stopping the relay');
        relay.stop(signal);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      let code: number;
      try {
        code = await relay.run();
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      if (relay.failure) process.stderr.write(`relay: ${relay.failure}\n`);
      // As a worker's: a drain by a signal is 128 + its number, not the 0 of a job that ended.
      const signal = relay.stoppedBecause as NodeJS.Signals | undefined;
      onDone(code === 0 && signals > 0 && signal !== undefined && signal in constants.signals ? 128 + constants.signals[signal] : code);
    });
  return program;
}

/** The exit code for an error out of the command (see COORDINATOR_EXIT). */
function exitCodeFor(e: unknown): number {
  if (e instanceof CommanderError) return e.exitCode === 0 ? COORDINATOR_EXIT.done : COORDINATOR_EXIT.cannotRun;
  return e instanceof ErrorWhileTraining ? COORDINATOR_EXIT.stopped : COORDINATOR_EXIT.cannotRun;
}

/**
 * Parses argv and runs the command; resolves to the exit code (COORDINATOR_EXIT). Errors print
 * one line. `run` is runCoordinator unless a test passes its own.
 */
export async function main(argv: string[], run: typeof runCoordinator = runCoordinator): Promise<number> {
  let code: number = COORDINATOR_EXIT.done;
  try {
    await buildCoordinatorProgram((c) => (code = c), run).parseAsync(argv);
  } catch (e) {
    // Commander has printed its own message (and the help) already.
    if (!(e instanceof CommanderError)) {
      const shown = e instanceof ErrorWhileTraining ? e.cause : e;
      process.stderr.write(`coordinator: ${e instanceof Error ? e.message : String(e)}\n`);
      if (process.env.GRADFLEET_DEBUG) process.stderr.write(`${(shown as Error).stack}\n`);
    }
    return exitCodeFor(e);
  }
  return code;
}
