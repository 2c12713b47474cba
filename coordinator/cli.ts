/**
 * `coordinator start [--config job.yaml] [--port N] [--host H] [--local-workers N] [--run-dir D]`
 *
 * Without --config the embedded default job runs (the default MLP on the bundled digits, with
 * early stopping). `--local-workers N` also starts N worker processes on this machine, so one
 * command runs a whole local cluster. Exit code 0 when every run finished, 1 otherwise.
 *
 * Started on a run directory that holds checkpoints of the same job, it resumes (the newest good
 * checkpoint of each run); a run directory of another job config is refused. SIGTERM or SIGINT
 * stops the job gracefully: every unfinished run is checkpointed first, and remote workers keep
 * trying to reconnect. A second signal ends the process at once.
 */
import { Command, InvalidArgumentError } from '@commander-js/extra-typings';
import { createLogger } from '../shared/log.js';
import { readJobFile, parseJob } from './job/load.js';
import { defaultJob } from './job/default-job.js';
import { runCoordinator } from './coordinator.js';

function integer(flag: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${flag} must be an integer >= ${min}, got '${v}'`);
    return n;
  };
}

export function buildCoordinatorProgram(onDone: (code: number) => void): Command {
  const program = new Command('coordinator').description('the gradfleet coordinator: serves a training job to workers over gRPC').showHelpAfterError();
  program
    .command('start')
    .description('run a job: compile its graphs, serve them, schedule micro-batches, write the run directory')
    .option('--config <file>', 'job file (YAML); without it the embedded default job runs')
    .option('--port <n>', 'port to listen on (0: any free port, printed)', integer('--port', 0), 7070)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--local-workers <n>', 'also start this many worker processes on this machine', integer('--local-workers', 0), 0)
    .option('--run-dir <dir>', "where outputs go (default: the job's run_dir, else runs/<name>-<time>); one holding checkpoints of this job is resumed")
    .action(async (opts) => {
      const log = createLogger('coordinator');
      const { config, baseDir, source } = opts.config
        ? { ...readJobFile(opts.config), source: opts.config }
        : { config: parseJob(defaultJob(), 'embedded default job'), baseDir: process.cwd(), source: 'embedded default job' };
      const abort = new AbortController();
      let signals = 0;
      const onSignal = (signal: NodeJS.Signals) => {
        // The first signal stops the job gracefully; a second one ends the process at once.
        if (++signals > 1) process.exit(130);
        log.warn({ signal }, 'stopping the job');
        abort.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const code = await runCoordinator({
        job: config,
        source,
        baseDir,
        host: opts.host,
        port: opts.port,
        runDir: opts.runDir,
        localWorkers: opts.localWorkers,
        log,
        print: (line) => process.stdout.write(`${line}\n`),
        abort: abort.signal,
      });
      onDone(code);
    });
  return program;
}

/** Parses argv and runs the command; resolves to the exit code. Errors print one line. */
export async function main(argv: string[]): Promise<number> {
  let code = 0;
  try {
    await buildCoordinatorProgram((c) => (code = c)).parseAsync(argv);
  } catch (e) {
    process.stderr.write(`coordinator: ${e instanceof Error ? e.message : String(e)}\n`);
    if (process.env.GRADFLEET_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return 1;
  }
  return code;
}
