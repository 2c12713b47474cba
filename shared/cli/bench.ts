/**
 * `gradfleet bench` (`npm run bench`): runs the benchmark sections under bench/ and prints one
 * table with the machine described.
 *
 *   gradfleet bench [--section step --section torch] [--runs 5] [--threads 1,2] [--batch 128] [--json out.json]
 */
import { writeFileSync } from 'node:fs';
import type { Command } from '@commander-js/extra-typings';
import { DEFAULT_SETTINGS } from '../../bench/settings.js';
import { integerOption, positiveOption } from './train.js';
import { CliUsageError } from './errors.js';

export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description('measure gradient-step throughput of the compiled graphs (and a PyTorch reference, the training loop, the coordinator\'s step arithmetic); --list shows the sections')
    .option('--section <id>', 'run only this section (repeatable)', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--list', 'list the sections and exit')
    .option('--runs <n>', 'timed runs per case (the median is reported)', integerOption('--runs', 1), DEFAULT_SETTINGS.runs)
    .option('--warmup <n>', 'untimed iterations before timing', integerOption('--warmup', 0), DEFAULT_SETTINGS.warmup)
    .option('--min-run <seconds>', 'each timed run lasts at least this long', positiveOption('--min-run'), DEFAULT_SETTINGS.minRunSeconds)
    .option('--threads <list>', `onnxruntime (and torch) intra-op thread counts, comma-separated (default: ${DEFAULT_SETTINGS.threads.join(',')})`, threadList)
    .option('--batch <n>', 'samples per gradient step', integerOption('--batch', 1), DEFAULT_SETTINGS.batch)
    .option('--json <file>', 'also write the full report as JSON')
    .action(async (opts) => {
      // Loaded on use: the sections pull in every part of gradfleet they measure.
      const { SECTIONS } = await import('../../bench/sections/index.js');
      const { formatReport, runBench, selectSections } = await import('../../bench/runner.js');
      const out = (line: string) => process.stdout.write(`${line}\n`);
      if (opts.list) {
        for (const s of SECTIONS) out(`${s.id.padEnd(10)} ${s.title}`);
        return;
      }
      const settings = { runs: opts.runs, warmup: opts.warmup, minRunSeconds: opts.minRun, threads: opts.threads ?? DEFAULT_SETTINGS.threads, batch: opts.batch };
      const report = await runBench(selectSections(opts.section), settings, (line) => process.stderr.write(`${line}\n`));
      out(formatReport(report));
      if (opts.json) writeFileSync(opts.json, `${JSON.stringify(report, null, 2)}\n`);
    });
}

function threadList(v: string): number[] {
  const parts = v.split(',').map((s) => s.trim());
  const n = parts.map(Number);
  if (parts.some((s) => s === '') || n.some((x) => !Number.isInteger(x) || x < 1)) throw new CliUsageError(`--threads must be a comma-separated list of integers ≥ 1, got '${v}'`);
  return [...new Set(n)];
}
