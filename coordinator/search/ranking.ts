/**
 * A search's result: trials ranked by their objective, the search's summary.json /
 * search-summary.json, and the ranked table `coordinator start` prints at the end.
 *
 * Ranking: finished trials by their best validation metric (the objective's direction); a
 * pruned trial after every trial that went further (its value is from a shorter run), then by
 * value; failed trials last. Ties keep trial order.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EvalSums } from '../run/run-records.js';
import type { Objective, SearchConfig } from './space.js';
import type { SearchStateFile, TrialRecord } from './search-state.js';

export interface SearchSummary {
  kind: 'search';
  job: string;
  method: SearchConfig['method'];
  objective: Objective;
  counts: { trials: number; complete: number; pruned: number; failed: number; running: number };
  best: { trial: number; params: TrialRecord['params']; value: number; best_step: number | undefined; dir: string } | null;
  ranked: (TrialRecord & { rank: number })[];
  /** The best configuration retrained on training + validation data, scored on the test split once. */
  retrain: { trial: number; state: string; dir: string; test: EvalSums | null; epochs: number | null } | null;
  /** The model the search hands over: the retrained one, else the best trial's. */
  model: string | null;
}

const STATE_ORDER = { complete: 0, pruned: 1, running: 2, failed: 3 } as const;

export function rankTrials(trials: readonly TrialRecord[], objective: Objective): TrialRecord[] {
  const better = (a: number | undefined, b: number | undefined) => {
    if (a === undefined || b === undefined) return a === undefined ? (b === undefined ? 0 : 1) : -1;
    return objective.mode === 'min' ? a - b : b - a;
  };
  // A pruned trial's value is from fewer steps; among pruned trials, the one that got further ranks first.
  const reach = (t: TrialRecord) => (t.state === 'pruned' ? (t.rungs.at(-1)?.step ?? 0) : 0);
  return [...trials].sort((a, b) => STATE_ORDER[a.state] - STATE_ORDER[b.state] || reach(b) - reach(a) || better(a.value, b.value) || a.trial - b.trial);
}

export function searchSummary(job: string, search: SearchConfig, state: SearchStateFile, runDir: string): SearchSummary {
  const ranked = rankTrials(state.trials, search.objective).map((t, i) => ({ ...t, rank: i + 1 }));
  const count = (s: TrialRecord['state']) => state.trials.filter((t) => t.state === s).length;
  const top = ranked[0];
  const best = top && top.value !== undefined && top.state !== 'failed' ? { trial: top.trial, params: top.params, value: top.value, best_step: top.best_step, dir: top.dir } : null;
  let retrain: SearchSummary['retrain'] = null;
  if (state.retrain) {
    const file = join(runDir, state.retrain.dir, 'summary.json');
    const s = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { test?: EvalSums | null; epochs?: number }) : undefined;
    retrain = { trial: state.retrain.trial, state: state.retrain.state, dir: state.retrain.dir, test: s?.test ?? null, epochs: s?.epochs ?? null };
  }
  const modelDir = retrain?.state === 'done' ? retrain.dir : best?.dir;
  const model = modelDir && existsSync(join(runDir, modelDir, 'model.onnx')) ? join(modelDir, 'model.onnx') : null;
  return {
    kind: 'search',
    job,
    method: search.method,
    objective: search.objective,
    counts: { trials: state.trials.length, complete: count('complete'), pruned: count('pruned'), failed: count('failed'), running: count('running') },
    best,
    ranked,
    retrain,
    model,
  };
}

const fmt = (v: number | undefined) => (v === undefined ? '–' : Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? v.toPrecision(4) : v.toExponential(2));
const fmtParam = (v: unknown) => (typeof v === 'number' ? fmt(v) : String(v));

/** The closing lines of a search: counts, the ranked table (first `limit` rows), the retraining and the model. */
export function searchReportLines(s: SearchSummary, runDir: string, limit = 10): string[] {
  const lines = [`${s.job}: ${s.method} search, ${s.counts.trials} trials (${s.counts.complete} complete, ${s.counts.pruned} pruned by ASHA, ${s.counts.failed} failed), objective ${s.objective.metric} (${s.objective.mode})`];
  const paths = s.ranked[0] ? Object.keys(s.ranked[0].params) : [];
  const header = ['rank', 'trial', 'state', s.objective.metric, 'at step', 'steps', ...paths];
  const rows = s.ranked.slice(0, limit).map((t) => [String(t.rank), String(t.trial), t.state, fmt(t.value), t.best_step === undefined ? '–' : String(t.best_step), t.steps === undefined ? '–' : String(t.steps), ...paths.map((p) => fmtParam(t.params[p]))]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const row = (cells: string[]) => `  ${cells.map((c, i) => c.padEnd(widths[i]!)).join('  ')}`.trimEnd();
  lines.push(row(header), ...rows.map(row));
  if (s.ranked.length > limit) lines.push(`  … ${s.ranked.length - limit} more in search-summary.json`);
  if (s.best) lines.push(`  best: trial ${s.best.trial}, ${s.objective.metric} ${fmt(s.best.value)}: ${Object.entries(s.best.params).map(([k, v]) => `${k}=${fmtParam(v)}`).join(', ')}`);
  if (s.retrain) {
    const t = s.retrain.test;
    lines.push(`  retrained trial ${s.retrain.trial} on training + validation data (${s.retrain.epochs ?? '?'} epochs): ${s.retrain.state}${t ? `, test loss ${t.loss.toFixed(4)}${t.accuracy === null ? '' : `, accuracy ${t.accuracy.toFixed(4)}`} (${t.count.toLocaleString('en-US')} samples)` : ''}`);
  }
  if (s.model) lines.push(`  model: ${join(runDir, s.model)}`);
  return lines;
}
