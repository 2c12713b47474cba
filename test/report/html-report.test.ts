/** `gradfleet report`: inline-SVG charts that put points where they belong, and a page that needs nothing from the network. */
import { describe, it, expect } from 'vitest';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lineChart, thin, ticks } from '../../coordinator/report/svg-chart.js';
import { renderReport } from '../../coordinator/report/html-report.js';
import { readMetricRecords } from '../../coordinator/report/report-files.js';

const GRADFLEET = fileURLToPath(new URL('../../bin/gradfleet.mjs', import.meta.url));

/** The drawn [x, y] pixel pairs of each polyline, by series name. */
function polylines(svg: string): Record<string, [number, number][]> {
  return Object.fromEntries(
    [...svg.matchAll(/<polyline class="series" data-name="([^"]*)" data-points="\d+"[^>]* points="([^"]*)"\/>/g)].map((m) => [m[1]!, m[2]!.split(' ').map((p) => p.split(',').map(Number) as [number, number])]),
  );
}

describe('report charts', () => {
  it('maps the data range onto the plot area: first point bottom left, last top right, skipping non-finite values', () => {
    const svg = lineChart({ title: 't', xLabel: 'step', width: 640, height: 280, series: [{ name: 'loss', points: [[1, 0], [2, NaN], [3, 5], [5, 10]] }] });
    const pts = polylines(svg).loss!;
    // Plot area: x 64…624, y 28…240 (margins 64/16/28/40).
    expect(pts).toEqual([[64, 240], [344, 134], [624, 28]]);
  });

  it('keeps at most 2000 points per series, the last one included, and picks round ticks', () => {
    const many = Array.from({ length: 10_001 }, (_, i) => i);
    const kept = thin(many);
    expect(kept.length).toBeLessThanOrEqual(2001);
    expect(kept.at(-1)).toBe(10_000);
    expect(ticks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(ticks(3, 97)).toEqual([20, 40, 60, 80]);
  });

  it('escapes names and says when a chart has no data', () => {
    const svg = lineChart({ title: 'a <b> & "c"', xLabel: 'x', series: [{ name: '<script>', points: [] }] });
    expect(svg).not.toContain('<script>');
    expect(svg).toContain('a &lt;b&gt; &amp; &quot;c&quot;');
    expect(svg).toContain('no data');
  });

  it('renders a page with the summary and six charts, without scripts or network resources', () => {
    const metrics = [
      { type: 'step', run: 'r', step: 1, loss: 2.3, grad_norm: 3, grad_norm_clipped: 1, lr: 0.001, samples_per_s: 9000 },
      { type: 'step', run: 'r', step: 2, skipped: true, grad_norm: null },
      { type: 'step', run: 'r', step: 3, loss: 1.1, grad_norm: 0.5, grad_norm_clipped: 0.5, lr: 0.001, samples_per_s: 9500 },
      { type: 'eval', run: 'r', step: 3, split: 'validation', loss: 1.2, accuracy: 0.7 },
      { type: 'eval', run: 'r', step: 3, split: 'test', loss: 1.25, accuracy: 0.69 },
    ];
    const html = renderReport({ title: 'r <1>', summaryLines: ['r: done: completed 3 steps', '  test: loss 1.25, accuracy 0.69 (100 samples)'], runs: [{ name: 'r', metrics }], generatedAt: '2026-12-06T00:00:00.000Z' });
    expect(html.match(/<svg /g)).toHaveLength(6);
    expect(html).toContain('test: loss 1.25, accuracy 0.69');
    expect(html).toContain('<title>r &lt;1&gt;</title>');
    expect(html).toContain('1 step(s) skipped for non-finite gradients');
    expect(html).not.toMatch(/<script|<link|src=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    const lines = polylines(html);
    expect(lines.train).toHaveLength(2);
    expect(lines['before clipping']).toHaveLength(2);
    expect(lines.validation).toHaveLength(1);
  });

  it('draws accuracy under each attack next to the clean accuracy when evaluations were attacked', () => {
    const metrics = [
      { type: 'step', run: 'r', step: 1, loss: 2.3, grad_norm: 3, grad_norm_clipped: 1, lr: 0.001, samples_per_s: 9000 },
      { type: 'eval', run: 'r', step: 1, split: 'validation', loss: 1.2, accuracy: 0.7, attacks: { fgsm: { accuracy: 0.3, loss: 2 }, pgd: { accuracy: 0.1, loss: 3 } } },
      { type: 'eval', run: 'r', step: 2, split: 'validation', loss: 1.1, accuracy: 0.75, attacks: { fgsm: { accuracy: 0.35, loss: 1.9 }, pgd: { accuracy: 0.15, loss: 2.9 } } },
      { type: 'eval', run: 'r', step: 2, split: 'oob', loss: 1.1, accuracy: 0.74 },
    ];
    const lines = polylines(renderReport({ title: 'r', summaryLines: [], runs: [{ name: 'r', metrics }], generatedAt: '2026-12-06T00:00:00.000Z' }));
    expect(lines['validation FGSM']).toHaveLength(2);
    expect(lines['validation PGD']).toHaveLength(2);
    // The lower accuracy is drawn lower (larger y) at the same step.
    expect(lines['validation PGD']![1]![1]).toBeGreaterThan(lines['validation FGSM']![1]![1]);
    expect(lines['validation FGSM']![1]![1]).toBeGreaterThan(lines.validation![1]![1]);
    // Out-of-bag evaluations are never attacked: no empty series for them.
    expect(lines['oob FGSM']).toBeUndefined();
  });

  it('reads metrics.jsonl tolerating only a torn last line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradfleet-report-'));
    try {
      const f = join(dir, 'metrics.jsonl');
      writeFileSync(f, '{"type":"step","step":1}\n{"type":"step","st');
      expect(readMetricRecords(f)).toEqual([{ type: 'step', step: 1 }]);
      writeFileSync(f, '{"type":"step","st\n{"type":"step","step":2}\n');
      expect(() => readMetricRecords(f)).toThrow(/metrics\.jsonl, line 1: not JSON/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gradfleet report writes <run-dir>/report.html for a bagging job with a curve per member, and refuses a folder that is no run directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradfleet-report-'));
    try {
      const member = (k: number) => ({
        member: k, run: `member-${k}`, dir: `members/${k}`, seed: k, init_seed: 1, status: 'done', stop_reason: 'completed 2 steps (1 epochs)',
        steps: 2, epochs_completed: 1, best_step: null, monitor: null, best_metric: null, bootstrap: { samples: 10, distinct: 7, out_of_bag: 3 },
        out_of_bag: null, validation: null, test: { loss: 0.5, accuracy: 0.8 + k / 100, count: 100, headLosses: [0.5] },
      });
      for (const k of [0, 1]) {
        mkdirSync(join(dir, 'members', String(k)), { recursive: true });
        writeFileSync(join(dir, 'members', String(k), 'metrics.jsonl'), [1, 2].map((s) => JSON.stringify({ type: 'step', run: `member-${k}`, step: s, loss: 1 / s + k, grad_norm: 1, grad_norm_clipped: 1, lr: 0.1, samples_per_s: 100 })).join('\n') + '\n');
      }
      writeFileSync(join(dir, 'metrics.jsonl'), JSON.stringify({ type: 'eval', run: 'ensemble', split: 'test', loss: 0.4, accuracy: 0.85, count: 100 }) + '\n');
      writeFileSync(join(dir, 'summary.json'), JSON.stringify({
        job: 'bag', kind: 'ensemble', started_at: '', status: 'done', wall_time_s: 3,
        ensemble: { members: 2, sample_fraction: 1, seed: 1, predict: 'average', init: 'shared', model: 'model.onnx', members_in_model: [0, 1], scored_head: 'logits', evaluation: 'done', validation: null, test: { count: 100, accuracy: 0.85, nll: 0.4 } },
        comparison: { test_accuracy: { ensemble: 0.85, best_member: { member: 1, accuracy: 0.81 }, mean_member: 0.805 } },
        members: [member(0), member(1)],
      }));
      const r = spawnSync(process.execPath, [GRADFLEET, 'report', dir], { encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe(`report written: ${join(dir, 'report.html')}`);
      const html = readFileSync(join(dir, 'report.html'), 'utf8');
      expect(html).toContain('bag: bagging ensemble of 2 members');
      expect(html).toContain('ensemble (average) test: accuracy 0.85, nll 0.4 (100 samples)');
      const lines = polylines(html);
      // The ensemble's scores have no step (they come once, after training): in the summary, not on a curve.
      expect(Object.keys(lines)).toEqual(expect.arrayContaining(['member 0 train', 'member 1 train', 'member 0 before clipping']));
      expect(lines['member 1 train']).toHaveLength(2);

      const bad = spawnSync(process.execPath, [GRADFLEET, 'report', join(dir, 'members')], { encoding: 'utf8', timeout: 60_000 });
      expect(bad.status).toBe(2);
      expect(bad.stderr.trim()).toBe(`gradfleet: ${join(dir, 'members')} is not a run directory: it holds neither summary.json nor metrics.jsonl`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
