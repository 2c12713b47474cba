/**
 * `gradfleet report`: one self-contained HTML page for a finished (or running) run directory:
 * the closing summary, and learning curves as inline SVG (svg-chart.ts). No script and no
 * external resource, so it can be mailed, archived, or opened on an air-gapped cluster. Pure:
 * records in, markup out; report-files.ts reads the run directory.
 */
import { escapeXml, lineChart, type Series } from './svg-chart.js';

type MetricRecord = Record<string, unknown>;

export interface RunRecords {
  name: string;
  /** The run's metrics.jsonl records, in file order. */
  metrics: readonly MetricRecord[];
}

export interface ReportInput {
  title: string;
  /** The lines `coordinator start` prints at the end (final-report.ts). */
  summaryLines: readonly string[];
  runs: readonly RunRecords[];
  generatedAt: string;
}

const num = (v: unknown): number => (typeof v === 'number' ? v : NaN);

/** [step, value] of the records that match, for one field. */
function pointsOf(metrics: readonly MetricRecord[], match: (m: MetricRecord) => boolean, field: string): [number, number][] {
  return metrics.filter(match).map((m) => [num(m.step), num(m[field])] as [number, number]);
}

const isStep = (m: MetricRecord) => m.type === 'step' && m.skipped !== true;
const isEval = (split: string) => (m: MetricRecord) => m.type === 'eval' && m.split === split;

/** Accuracy under attack at each evaluation of `split` (adversarial evaluation's `attacks` field). */
function attackPoints(metrics: readonly MetricRecord[], split: string, attack: string): [number, number][] {
  return metrics.filter(isEval(split)).flatMap((m) => {
    const a = (m.attacks as Record<string, { accuracy: number }> | undefined)?.[attack];
    return a ? [[num(m.step), a.accuracy] as [number, number]] : [];
  });
}

/** The attacks evaluations were scored under (FGSM, PGD), in their order. */
function attacksOf(runs: readonly RunRecords[]): string[] {
  return [...new Set(runs.flatMap((r) => r.metrics.flatMap((m) => (m.type === 'eval' && m.attacks ? Object.keys(m.attacks as object) : []))))];
}

function splitsOf(runs: readonly RunRecords[]): string[] {
  return [...new Set(runs.flatMap((r) => r.metrics.filter((m) => m.type === 'eval').map((m) => String(m.split))))].sort();
}

/** One chart's series over every run: `name` for a single run, `run name` for several. */
function across(runs: readonly RunRecords[], parts: readonly { name: string; points: (r: RunRecords) => [number, number][] }[]): Series[] {
  return runs.flatMap((r) => parts.map((p) => ({ name: runs.length > 1 ? `${r.name} ${p.name}`.trim() : p.name, points: p.points(r) })));
}

export function renderReport(input: ReportInput): string {
  const runs = input.runs;
  const splits = splitsOf(runs);
  const charts = [
    lineChart({ title: 'Training loss (mean per sample)', xLabel: 'step', series: across(runs, [{ name: 'train', points: (r) => pointsOf(r.metrics, isStep, 'loss') }]) }),
    lineChart({ title: 'Evaluation loss', xLabel: 'step', series: across(runs, splits.map((s) => ({ name: s, points: (r: RunRecords) => pointsOf(r.metrics, isEval(s), 'loss') }))) }),
    lineChart({
      title: 'Evaluation accuracy',
      xLabel: 'step',
      series: across(runs, [
        ...splits.map((s) => ({ name: s, points: (r: RunRecords) => pointsOf(r.metrics, isEval(s), 'accuracy') })),
        ...splits.flatMap((s) => attacksOf(runs).map((a) => ({ name: `${s} ${a.toUpperCase()}`, points: (r: RunRecords) => attackPoints(r.metrics, s, a) }))),
      ]).filter((s) => s.points.length > 0),
    }),
    lineChart({
      title: 'Gradient norm (global L2 of the mean gradient)',
      xLabel: 'step',
      series: across(runs, [
        { name: 'before clipping', points: (r) => pointsOf(r.metrics, isStep, 'grad_norm') },
        { name: 'after clipping', points: (r) => pointsOf(r.metrics, isStep, 'grad_norm_clipped') },
      ]),
    }),
    lineChart({ title: 'Learning rate', xLabel: 'step', series: across(runs, [{ name: 'lr', points: (r) => pointsOf(r.metrics, isStep, 'lr') }]) }),
    lineChart({ title: 'Throughput (samples per second)', xLabel: 'step', series: across(runs, [{ name: 'samples/s', points: (r) => pointsOf(r.metrics, isStep, 'samples_per_s') }]) }),
  ];
  const skipped = runs.reduce((a, r) => a + r.metrics.filter((m) => m.type === 'step' && m.skipped === true).length, 0);
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${escapeXml(input.title)}</title>`,
    '<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}pre{background:#f6f6f6;padding:12px;overflow-x:auto}.charts{display:flex;flex-wrap:wrap;gap:16px}.chart{border:1px solid #ddd;background:#fff}footer{color:#777;font-size:12px;margin-top:24px}</style>',
    '</head><body>',
    `<h1>${escapeXml(input.title)}</h1>`,
    `<pre class="summary">${escapeXml(input.summaryLines.join('\n'))}</pre>`,
    skipped > 0 ? `<p class="skipped">${skipped} step(s) skipped for non-finite gradients (not drawn).</p>` : '',
    `<div class="charts">${charts.join('\n')}</div>`,
    `<footer>gradfleet report, ${escapeXml(input.generatedAt)}; ${runs.length} run(s), ${runs.reduce((a, r) => a + r.metrics.filter(isStep).length, 0)} step records.</footer>`,
    '</body></html>',
    '',
  ].join('\n');
}
