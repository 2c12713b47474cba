/**
 * Time to accuracy on Fashion-MNIST: how long each contender takes to train the MLP
 * 784-256-128-10 (gradfleet's default, dropout 0.2) to 0.88 test accuracy on one job
 * (FASHION_JOB: same data, batch, optimizer, clipping, evaluation schedule). gradfleet runs a
 * local cluster of 2 worker processes (gradfleet-fashion.ts). The PyTorch
 * contenders run bench/torch_fashion.py: one process at each of the bench's thread counts, and
 * torch DDP with 2 processes on loopback. One run each (a run lasts tens of seconds); the row is
 * the wall time, evaluations included, with the training time alone in the note. Skips with a
 * note when torch or the dataset is missing.
 */
import { probeTorch, runTorchScript, torchSkipNote } from '../python.js';
import { gradfleetContender } from './gradfleet-fashion.js';
import type { BenchContext, BenchRow, BenchSection, BenchSettings, SectionResult } from '../section.js';
import { FASHION_JOB, missingDatasetNote, type FashionJob, type TimeToAccuracy, type TimeToAccuracyContender } from './fashion-job.js';

interface FashionLine {
  reached: boolean;
  seconds: number;
  train_seconds: number;
  load_seconds: number;
  steps: number;
  epochs: number;
  final_accuracy: number;
  curve: { step: number; seconds: number; train_seconds: number; accuracy: number }[];
  torch: string;
}

/**
 * PyTorch trains `job` with torch_fashion.py: `world` 1 is a plain loop with `threads` torch
 * threads, more is DDP (gloo, loopback) with one thread per rank. `maxEpochs` overrides the job's
 * cap (a quick check of the script). `{ skipped }` when torch or the dataset is missing.
 */
export async function measureTorchTimeToAccuracy(
  job: FashionJob,
  opts: { world: number; threads: number; maxEpochs?: number },
): Promise<(TimeToAccuracy & { torch: string; loadSeconds: number }) | { skipped: string }> {
  const probe = await probeTorch();
  if (!probe.ok) return { skipped: torchSkipNote(probe) };
  const missing = missingDatasetNote(job);
  if (missing) return { skipped: missing };
  const maxEpochs = opts.maxEpochs ?? job.maxEpochs;
  const cfg = {
    world: opts.world,
    threads: opts.threads,
    global_batch: job.globalBatch,
    target: job.target,
    max_epochs: maxEpochs,
    eval_every: job.evalEvery,
    seed: job.seed,
    lr: job.optimizer.lr,
    weight_decay: job.optimizer.weightDecay,
    clip: job.clipMaxNorm,
    data_dir: job.dataDir,
    files: { train_images: job.files.trainImages, train_labels: job.files.trainLabels, test_images: job.files.testImages, test_labels: job.files.testLabels },
  };
  // An epoch takes 1–4 s here; the allowance covers slower machines and start-up.
  const lines = await runTorchScript<FashionLine>(probe.python, 'torch_fashion.py', cfg, 60 + maxEpochs * 20);
  if (lines.length !== 1) throw new Error(`torch_fashion.py printed ${lines.length} result lines, expected 1`);
  const l = lines[0]!;
  return {
    reached: l.reached,
    seconds: l.seconds,
    trainSeconds: l.train_seconds,
    steps: l.steps,
    epochs: l.epochs,
    finalAccuracy: l.final_accuracy,
    curve: l.curve.map((p) => ({ step: p.step, seconds: p.seconds, trainSeconds: p.train_seconds, accuracy: p.accuracy })),
    torch: l.torch,
    loadSeconds: l.load_seconds,
  };
}

/** PyTorch in one process at each of the bench's thread counts, and torch DDP with 2 processes. */
export function torchContenders(settings: BenchSettings): TimeToAccuracyContender[] {
  const single = settings.threads.map((threads) => ({
    label: 'torch, 1 process',
    threads,
    run: (_ctx: BenchContext, job: FashionJob) => measureTorchTimeToAccuracy(job, { world: 1, threads }),
  }));
  const ddp = { label: 'torch DDP, 2 processes (gloo, loopback)', threads: 1, run: (_ctx: BenchContext, job: FashionJob) => measureTorchTimeToAccuracy(job, { world: 2, threads: 1 }) };
  return [...single, ddp];
}

/** Every contender, in table order: gradfleet with 2 workers (gradfleet-fashion.ts), then PyTorch. */
export function timeToAccuracyContenders(settings: BenchSettings): TimeToAccuracyContender[] {
  return [gradfleetContender(2), ...torchContenders(settings)];
}

/** The run with the median time (of an odd count; the slower middle one otherwise) stands for the contender. */
function medianRun(runs: readonly TimeToAccuracy[]): TimeToAccuracy {
  return [...runs].sort((a, b) => a.seconds - b.seconds)[Math.floor(runs.length / 2)]!;
}

function row(c: TimeToAccuracyContender, job: FashionJob, runs: readonly TimeToAccuracy[]): BenchRow {
  const r = medianRun(runs);
  const times = runs.map((x) => x.seconds);
  const where = `${r.finalAccuracy.toFixed(4)} at step ${r.steps} (epoch ${r.epochs})`;
  return {
    case: `${c.label}: seconds to test accuracy ${job.target}, batch ${job.globalBatch}`,
    threads: c.threads,
    value: r.seconds,
    unit: 's',
    ...(runs.length > 1 ? { range: [Math.min(...times), Math.max(...times)] as [number, number] } : {}),
    note: r.reached
      ? `median of ${runs.length} run(s); training alone ${r.trainSeconds.toFixed(1)} s; ${where}; ${r.curve.length} evaluation(s)`
      : `NOT reached: ${where}, stopped at the epoch cap after ${r.trainSeconds.toFixed(1)} s of training`,
  };
}

export const timeToAccuracySection: BenchSection = {
  id: 'fashion',
  title: `Time to ${FASHION_JOB.target} test accuracy on Fashion-MNIST (MLP 784-256-128-10 with dropout, AdamW lr ${FASHION_JOB.optimizer.lr} wd ${FASHION_JOB.optimizer.weightDecay}, clip ${FASHION_JOB.clipMaxNorm}, batch ${FASHION_JOB.globalBatch}; median of up to 3 runs each)`,
  async run(ctx: BenchContext): Promise<SectionResult> {
    const job = FASHION_JOB;
    const rows: BenchRow[] = [];
    const notes: string[] = [];
    // A run lasts tens of seconds: a few repetitions give the spread without dominating the bench.
    const repetitions = Math.max(1, Math.min(ctx.settings.runs, 3));
    for (const c of timeToAccuracyContenders(ctx.settings)) {
      ctx.log(`  ${c.label}, ${c.threads} thread(s), to ${job.target} (at most ${job.maxEpochs} epochs)...`);
      const runs: TimeToAccuracy[] = [];
      let failure: string | undefined;
      for (let i = 0; i < repetitions && failure === undefined; i++) {
        try {
          const r = await c.run(ctx, job);
          if ('skipped' in r) failure = r.skipped;
          else runs.push(r);
        } catch (err) {
          failure = `${c.label}: failed: ${(err as Error).message}`;
        }
      }
      if (failure !== undefined && !notes.includes(failure)) notes.push(failure);
      if (runs.length > 0) rows.push(row(c, job, runs));
    }
    return { rows, notes };
  },
};
