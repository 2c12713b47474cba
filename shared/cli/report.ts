/**
 * `gradfleet report <run-dir>`: writes a self-contained HTML report of a run directory (the
 * closing summary and learning curves; a bagging job's members and ensemble) and prints its path.
 *
 *   gradfleet report runs/digits-mlp-2026-12-06T18-57-57-010Z [--out report.html]
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from '@commander-js/extra-typings';

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description('write a self-contained HTML report (summary, learning curves as inline SVG) of a run directory')
    .argument('<run-dir>', 'a run directory written by `coordinator start` (or a bagging job\'s)')
    .option('--out <file>', 'where to write it (default: <run-dir>/report.html)')
    .action(async (runDir, opts) => {
      // Loaded on use, like the other subcommands' heavy parts.
      const { readReportInput } = await import('../../coordinator/report/report-files.js');
      const { renderReport } = await import('../../coordinator/report/html-report.js');
      const out = opts.out ?? join(runDir, 'report.html');
      writeFileSync(out, renderReport(readReportInput(runDir)));
      process.stdout.write(`report written: ${out}\n`);
    });
}
