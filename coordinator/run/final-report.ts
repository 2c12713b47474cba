/**
 * The lines `coordinator start` prints when a job ends: what a person wants to know without
 * opening summary.json (why it stopped, how long, how well on the test split, where the model
 * is; the run directory follows in the job's last line). Pure: summaries and sample counts come
 * in, lines go out; final-report-files.ts reads them from the run directory.
 */
import type { EnsembleSummary } from './ensemble.js';
import type { EvalSums, RunSummary } from './run-records.js';

const int = (n: number) => Math.round(n).toLocaleString('en-US');
/** Four significant digits, no trailing zeros (0.969, 0.1123, 2.303). */
const metric = (x: number) => String(Number(x.toPrecision(4)));

/** Samples trained: the sum of the step records' `samples` (metrics.jsonl as readMetricsFile reads it). */
export function trainedSamples(records: readonly Record<string, unknown>[]): number {
  return records.reduce((total, m) => total + (m.type === 'step' && typeof m.samples === 'number' ? m.samples : 0), 0);
}

function evalLine(label: string, e: EvalSums | null | undefined): string | undefined {
  if (!e) return undefined;
  const acc = e.accuracy === null ? '' : `, accuracy ${metric(e.accuracy)}`;
  const attacked = Object.entries(e.attacks ?? {}).map(([attack, a]) => `, ${attack.toUpperCase()} accuracy ${metric(a.accuracy)}`).join('');
  return `  ${label}: loss ${metric(e.loss)}${acc}${attacked} (${int(e.count)} samples)`;
}

export interface RunReport {
  summary: RunSummary;
  /** Training samples over the whole run (trainedSamples), when the metrics could be read. */
  samples: number | undefined;
  /** The run's model file, when one was written. */
  model: string | undefined;
}

/** A single training run: stop reason, length and speed, best evaluation, test, files. */
export function runReportLines(r: RunReport): string[] {
  const s = r.summary;
  const speed = r.samples !== undefined && s.wall_time_s > 0 ? `, ${int(r.samples / s.wall_time_s)} samples/s` : '';
  const resumed = s.resumes > 0 ? ` over ${s.resumes + 1} coordinator lifetimes` : '';
  const lines = [
    `${s.run}: ${s.status === 'done' ? 'done' : 'FAILED'}: ${s.stop_reason}`,
    `  ${int(s.steps)} steps, ${s.epochs_completed} whole epoch(s)${r.samples !== undefined ? `, ${int(r.samples)} samples` : ''} in ${s.wall_time_s.toFixed(1)} s of training${resumed}${speed}`,
  ];
  if (s.skipped_steps > 0) lines.push(`  ${s.skipped_steps} step(s) skipped for non-finite gradients`);
  if (s.monitor && s.best_metric !== null && s.best_step !== null) lines.push(`  best ${s.monitor} ${metric(s.best_metric)} at step ${int(s.best_step)}`);
  for (const l of [evalLine('validation', s.final_validation), evalLine('test', s.test)]) if (l) lines.push(l);
  if (r.model) lines.push(`  model: ${r.model}`);
  return lines;
}

/** A bagging job: every member in a line, the ensemble's scores and model. */
export function ensembleReportLines(s: EnsembleSummary, model: string | undefined): string[] {
  const lines = [`${s.job}: ensemble of ${s.ensemble.members} members, ${s.status === 'done' ? 'done' : s.status.toUpperCase()} in ${s.wall_time_s.toFixed(1)} s of training`];
  for (const m of s.members) {
    const test = m.test?.accuracy != null ? `, test accuracy ${metric(m.test.accuracy)}` : '';
    lines.push(`  member ${m.member}: ${m.status}, ${int(m.steps)} steps${test} (${m.stop_reason})`);
  }
  const e = s.ensemble;
  if (e.test) lines.push(`  ensemble (${e.predict}) test: accuracy ${metric(e.test.accuracy)}${e.test.nll !== null ? `, nll ${metric(e.test.nll)}` : ''} (${int(e.test.count)} samples)`);
  else lines.push(`  ensemble not scored: ${e.evaluation}`);
  const c = s.comparison.test_accuracy;
  if (c.best_member && c.mean_member !== null) lines.push(`  members' test accuracy: best ${metric(c.best_member.accuracy)} (member ${c.best_member.member}), mean ${metric(c.mean_member)}`);
  if (model) lines.push(`  model: ${model}`);
  return lines;
}
