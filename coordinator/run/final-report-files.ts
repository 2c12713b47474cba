/**
 * Reads what the final report (final-report.ts) needs from a finished job's run directory:
 * summary.json (a run's, a bagging job's or a search's), the run's metrics.jsonl and its model file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EnsembleSummary } from './ensemble.js';
import type { RunSummary } from './run-records.js';
import { ensembleReportLines, runReportLines, trainedSamples } from './final-report.js';
import { readMetricsFile } from './metrics-file.js';
import { searchReportLines, type SearchSummary } from '../search/ranking.js';

/** The report's lines; empty when the job wrote no summary (it failed before training). */
export function finalReportLines(runDir: string): string[] {
  const summaryFile = join(runDir, 'summary.json');
  if (!existsSync(summaryFile)) return [];
  const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as RunSummary | EnsembleSummary | SearchSummary;
  if ('kind' in summary && summary.kind === 'search') return searchReportLines(summary, runDir);
  if ('kind' in summary && summary.kind === 'ensemble') {
    const model = summary.ensemble.model ? join(runDir, summary.ensemble.model) : undefined;
    return ensembleReportLines(summary, model);
  }
  const run = summary as RunSummary;
  const metricsFile = join(runDir, 'metrics.jsonl');
  const samples = existsSync(metricsFile) ? trainedSamples(readMetricsFile(metricsFile).lines.map((l) => l.record)) : undefined;
  const modelFile = join(runDir, 'model.onnx');
  return runReportLines({ summary: run, samples, model: existsSync(modelFile) ? modelFile : undefined });
}
