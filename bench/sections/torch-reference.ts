/**
 * PyTorch on the same models, as reference lines: forward+backward (the loss summed, what the
 * compiled gradient graph computes) and the full training step of a plain PyTorch loop (mean
 * loss, backward, clip_grad_norm_ 1.0, AdamW lr 1e-3 weight decay 0.01), per model and thread
 * count. Runs bench/torch_step.py with the interpreter bench/python.ts picks when `import torch`
 * works there; otherwise the section measures nothing and says why. The bench never depends on torch.
 */
import { BENCH_MODELS, type BenchModel } from '../models.js';
import { probeTorch, runTorchScript, torchSkipNote } from '../python.js';
import { summarize, throughput, type Timing } from '../timing.js';
import type { BenchContext, BenchRow, BenchSection, BenchSettings, SectionResult } from '../section.js';

/** What torch_step.py times: see its docstring. */
export type TorchStepKind = 'grad' | 'train';

/** How each kind reads in the table. */
export const TORCH_STEP_LABELS: Record<TorchStepKind, string> = {
  grad: 'forward+backward (loss sum)',
  train: 'full step: mean loss, backward, AdamW wd 0.01 + clip 1.0',
};

/** One (model, threads, kind) case as measured. */
export interface TorchStepResult {
  model: BenchModel['id'];
  threads: number;
  kind: TorchStepKind;
  params: number;
  torch: string;
  /** Seconds per step. */
  timing: Timing;
}

interface TorchLine {
  model: BenchModel['id'];
  threads: number;
  kind: TorchStepKind;
  params: number;
  per_iteration: number[];
  iterations: number;
  torch: string;
}

/** The timeout of one torch_step.py run: generous, since every case lasts about runs × minRunSeconds. */
function timeoutSeconds(s: BenchSettings, cases: number): number {
  return 120 + cases * (s.runs + 2) * s.minRunSeconds * 4;
}

/**
 * Times the given kinds of torch step for the given models at the settings' batch, thread counts
 * and timing; `{ skipped }` with the reason when torch is not importable. Sections that compare
 * against PyTorch in the same run (the training loop against the full step, say) call this.
 */
export async function measureTorchSteps(
  settings: BenchSettings,
  opts: { models?: readonly BenchModel['id'][]; kinds?: readonly TorchStepKind[] } = {},
): Promise<{ results: TorchStepResult[] } | { skipped: string }> {
  const probe = await probeTorch();
  if (!probe.ok) return { skipped: torchSkipNote(probe) };
  const models = opts.models ?? BENCH_MODELS.map((m) => m.id);
  const kinds = opts.kinds ?? (['grad', 'train'] as const);
  const cfg = { models, kinds, batch: settings.batch, threads: settings.threads, warmup: settings.warmup, runs: settings.runs, min_run_seconds: settings.minRunSeconds };
  const lines = await runTorchScript<TorchLine>(probe.python, 'torch_step.py', cfg, timeoutSeconds(settings, models.length * kinds.length * settings.threads.length));
  return {
    results: lines.map((l) => ({ model: l.model, threads: l.threads, kind: l.kind, params: l.params, torch: l.torch, timing: summarize(l.per_iteration, l.iterations) })),
  };
}

export const torchReferenceSection: BenchSection = {
  id: 'torch',
  title: 'PyTorch reference (CPU): forward+backward, and the full training step of a plain loop',
  async run(ctx: BenchContext): Promise<SectionResult> {
    const s = ctx.settings;
    const probe = await probeTorch();
    if (probe.ok) ctx.log(`  torch ${probe.version} via ${probe.python}...`);
    let measured: Awaited<ReturnType<typeof measureTorchSteps>>;
    try {
      measured = await measureTorchSteps(s);
    } catch (err) {
      return { rows: [], notes: [`skipped: ${(err as Error).message}`] };
    }
    if ('skipped' in measured) return { rows: [], notes: [measured.skipped] };
    const rows: BenchRow[] = measured.results.map((r) => {
      const label = BENCH_MODELS.find((m) => m.id === r.model)!.label;
      const tp = throughput(r.timing, s.batch);
      return {
        case: `torch ${r.torch} ${label} (${r.params.toLocaleString('en-US')} params), batch ${s.batch}, ${TORCH_STEP_LABELS[r.kind]}`,
        threads: r.threads,
        value: tp.value,
        unit: 'samples/s',
        range: tp.range,
        note: `${(r.timing.median * 1000).toFixed(2)} ms/step`,
      };
    });
    return { rows, notes: [] };
  },
};
