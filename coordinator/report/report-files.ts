/**
 * Reads a run directory for the HTML report (html-report.ts): summary.json, the closing summary
 * lines, and metrics.jsonl of the run, of every bagging member and the ensemble, or of every
 * search trial and the retrained best configuration.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { finalReportLines } from '../run/final-report-files.js';
import type { EnsembleSummary } from '../run/ensemble.js';
import type { SearchSummary } from '../search/ranking.js';
import type { ReportInput, RunRecords } from './html-report.js';

export class ReportError extends Error {
  override name = 'ReportError';
}

/** metrics.jsonl's records; a torn last line (a coordinator killed mid-write) is left out. */
export function readMetricRecords(file: string): Record<string, unknown>[] {
  if (!existsSync(file)) return [];
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
  return lines.flatMap((l, i) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch (e) {
      if (i === lines.length - 1) return [];
      throw new ReportError(`${file}, line ${i + 1}: not JSON (${(e as Error).message})`);
    }
  });
}

export function readReportInput(runDir: string, now = new Date()): ReportInput {
  const metricsFile = join(runDir, 'metrics.jsonl');
  const summaryFile = join(runDir, 'summary.json');
  if (!existsSync(summaryFile) && !existsSync(metricsFile)) throw new ReportError(`${runDir} is not a run directory: it holds neither summary.json nor metrics.jsonl`);
  const summary = existsSync(summaryFile) ? (JSON.parse(readFileSync(summaryFile, 'utf8')) as Record<string, unknown>) : undefined;
  let runs: RunRecords[];
  let title: string;
  if (summary?.kind === 'search') {
    const s = summary as unknown as SearchSummary;
    title = `${s.job}: ${s.method} search, ${s.counts.trials} trials`;
    const trials = [...s.ranked].sort((a, b) => a.trial - b.trial).map((t) => ({ name: `trial ${t.trial}`, metrics: readMetricRecords(join(runDir, t.dir, 'metrics.jsonl')) }));
    runs = s.retrain ? [...trials, { name: 'retrained best', metrics: readMetricRecords(join(runDir, s.retrain.dir, 'metrics.jsonl')) }] : trials;
  } else if (summary?.kind === 'ensemble') {
    const e = summary as unknown as EnsembleSummary;
    title = `${e.job}: bagging ensemble of ${e.members.length} members`;
    runs = [...e.members.map((m) => ({ name: `member ${m.member}`, metrics: readMetricRecords(join(runDir, m.dir, 'metrics.jsonl')) })), { name: 'ensemble', metrics: readMetricRecords(metricsFile) }];
  } else {
    title = typeof summary?.run === 'string' ? summary.run : basename(runDir);
    runs = [{ name: title, metrics: readMetricRecords(metricsFile) }];
  }
  const summaryLines = summary ? finalReportLines(runDir) : ['no summary.json yet: the run is in progress, or was stopped before it ended (curves so far below)'];
  return { title, summaryLines, runs, generatedAt: now.toISOString() };
}
