/** The lines `coordinator start` prints at the end of a job, from its summary and metrics. */
import { describe, it, expect } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensembleReportLines, runReportLines, trainedSamples } from '../../coordinator/run/final-report.js';
import { readMetricsFile } from '../../coordinator/run/metrics-file.js';
import type { RunSummary } from '../../coordinator/run/run-records.js';
import type { EnsembleSummary, MemberReport } from '../../coordinator/run/ensemble.js';

const evalSums = (loss: number, accuracy: number | null, count: number) => ({ loss, accuracy, count, headLosses: [loss] });

const run: RunSummary = {
  run: 'digits-mlp',
  started_at: '2026-12-06T18:51:30.333Z',
  status: 'done',
  stop_reason: 'early stopping: val_accuracy did not improve by more than 0.001 for 3 evaluations (best 0.956 at step 882)',
  steps: 1071,
  epochs_completed: 17,
  best_step: 882,
  best_metric: 0.956,
  monitor: 'val_accuracy',
  final_validation: evalSums(0.20218408966064452, 0.956, 1000),
  last_validation: evalSums(0.2222558364868164, 0.952, 1000),
  test: evalSums(0.11234983444213867, 0.969, 1000),
  skipped_steps: 0,
  epoch_sample_counts: [],
  wall_time_s: 17.357,
  resumes: 0,
};

describe('final report', () => {
  it('sums the samples of the step lines only', () => {
    const jsonl = [
      { type: 'step', step: 1, samples: 128 },
      { type: 'eval', split: 'validation', step: 1, samples: 1000 },
      { type: 'step', step: 2, samples: 64 },
      { type: 'resume', step: 2 },
    ].map((l) => JSON.stringify(l)).join('\n');
    const dir = mkdtempSync(join(tmpdir(), 'gradfleet-final-report-'));
    const samplesIn = (text: string) => {
      writeFileSync(join(dir, 'metrics.jsonl'), text);
      return trainedSamples(readMetricsFile(join(dir, 'metrics.jsonl')).lines.map((l) => l.record));
    };
    try {
      expect(samplesIn(`${jsonl}\n`)).toBe(192);
      // A coordinator killed mid-write leaves a torn last line.
      expect(samplesIn(`${jsonl}\n{"type":"step","step":3,"sam`)).toBe(192);
      expect(samplesIn('')).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says why a run stopped, how long and how fast it trained, its best and test scores, and where its model is', () => {
    expect(runReportLines({ summary: run, samples: 136_000, model: '/runs/x/model.onnx' })).toEqual([
      `digits-mlp: done: ${run.stop_reason}`,
      '  1,071 steps, 17 whole epoch(s), 136,000 samples in 17.4 s of training, 7,835 samples/s',
      '  best val_accuracy 0.956 at step 882',
      '  validation: loss 0.2022, accuracy 0.956 (1,000 samples)',
      '  test: loss 0.1123, accuracy 0.969 (1,000 samples)',
      '  model: /runs/x/model.onnx',
    ]);
  });

  it('reports a failed, resumed run with skipped steps, no early stopping, no test split and no model', () => {
    const failed: RunSummary = { ...run, status: 'failed', stop_reason: 'diverged: 5 non-finite steps in a row', monitor: null, best_metric: null, best_step: null, final_validation: null, test: null, skipped_steps: 5, resumes: 1 };
    expect(runReportLines({ summary: failed, samples: undefined, model: undefined })).toEqual([
      'digits-mlp: FAILED: diverged: 5 non-finite steps in a row',
      '  1,071 steps, 17 whole epoch(s) in 17.4 s of training over 2 coordinator lifetimes',
      '  5 step(s) skipped for non-finite gradients',
    ]);
  });

  it('lists the members of a bagging job, the ensemble against its best and mean member, and its model', () => {
    const member = (k: number, acc: number): MemberReport => ({
      member: k, run: `m${k}`, dir: `member-${k}`, seed: k, init_seed: 42, status: 'done', stop_reason: 'completed 100 steps (2 epochs)',
      steps: 100, epochs_completed: 2, best_step: null, monitor: null, best_metric: null,
      bootstrap: { samples: 800, distinct: 506, out_of_bag: 294 }, out_of_bag: null, validation: null, test: evalSums(0.3, acc, 1000),
    });
    const summary = {
      job: 'bagging', kind: 'ensemble', started_at: '', status: 'done',
      ensemble: { members: 2, sample_fraction: 1, seed: 7, predict: 'average', init: 'shared', model: 'model.onnx', members_in_model: [0, 1], scored_head: 'logits', evaluation: 'done', validation: null, test: { count: 1000, accuracy: 0.95, nll: 0.17 } },
      comparison: { test_accuracy: { ensemble: 0.95, best_member: { member: 1, accuracy: 0.94 }, mean_member: 0.935 } },
      members: [member(0, 0.93), member(1, 0.94)],
      wall_time_s: 12.04,
    } as EnsembleSummary;
    expect(ensembleReportLines(summary, '/runs/b/model.onnx')).toEqual([
      'bagging: ensemble of 2 members, done in 12.0 s of training',
      '  member 0: done, 100 steps, test accuracy 0.93 (completed 100 steps (2 epochs))',
      '  member 1: done, 100 steps, test accuracy 0.94 (completed 100 steps (2 epochs))',
      '  ensemble (average) test: accuracy 0.95, nll 0.17 (1,000 samples)',
      "  members' test accuracy: best 0.94 (member 1), mean 0.935",
      '  model: /runs/b/model.onnx',
    ]);
  });
});
