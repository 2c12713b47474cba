/**
 * `gradfleet dashboard [runs-dir]`: the dashboard page for past runs, without a job: every run
 * directory under runs-dir (default: runs/ of the working directory) with its curves and closing
 * summary. Runs until interrupted. (A running job serves its own, live: `coordinator start --ui-port`.)
 *
 *   gradfleet dashboard runs --port 8470
 */
import { resolve } from 'node:path';
import type { Command } from '@commander-js/extra-typings';
import { integerOption } from './train.js';

export function registerDashboardCommand(program: Command): void {
  program
    .command('dashboard')
    .description('serve the dashboard page for the past runs under a runs directory (curves, closing summaries)')
    .argument('[runs-dir]', 'the directory holding run directories', 'runs')
    .option('--port <n>', 'port to listen on (0: any free port)', integerOption('--port', 0), 8470)
    .option('--host <host>', 'address to listen on (default: this machine only)', '127.0.0.1')
    .action(async (runsDir, opts) => {
      const { serveDashboard } = await import('../../coordinator/observe/dashboard-server.js');
      const server = await serveDashboard({ host: opts.host, port: opts.port, runsDir: resolve(runsDir) });
      process.stdout.write(`dashboard: ${server.url} (past runs under ${resolve(runsDir)}; Ctrl-C stops it)\n`);
      await new Promise<void>((done) => {
        const stop = () => void server.close().then(done);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
