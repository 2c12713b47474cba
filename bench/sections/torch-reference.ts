/**
 * PyTorch's forward+backward throughput on the same models, as a reference line. Runs
 * bench/torch_step.py with the system python (/usr/bin/python3, Debian's python3-torch) when
 * `import torch` works there; otherwise the section measures nothing and says why. The bench
 * never depends on torch.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BENCH_MODELS } from '../models.js';
import { summarize, throughput } from '../timing.js';
import type { BenchContext, BenchRow, BenchSection, SectionResult } from '../section.js';

const SCRIPT = fileURLToPath(new URL('../torch_step.py', import.meta.url));

interface TorchLine {
  model: 'mlp' | 'cnn';
  threads: number;
  params: number;
  per_iteration: number[];
  iterations: number;
  torch: string;
}

export const torchReferenceSection: BenchSection = {
  id: 'torch',
  title: 'PyTorch reference (forward+backward, loss sum, CPU)',
  async run(ctx: BenchContext): Promise<SectionResult> {
    // GRADFLEET_BENCH_PYTHON points the reference at another interpreter (a venv with a newer torch).
    const python = process.env.GRADFLEET_BENCH_PYTHON ?? '/usr/bin/python3';
    const probe = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) {
      const why = probe.error ? probe.error.message : (probe.stderr.trim().split('\n').pop() ?? `exit ${probe.status}`);
      return { rows: [], notes: [`skipped: \`${python} -c 'import torch'\` failed (${why}); scripts/install-torch.sh installs Debian's python3-torch`] };
    }
    const s = ctx.settings;
    ctx.log(`  torch ${probe.stdout.trim()} via ${python}...`);
    const cfg = { models: BENCH_MODELS.map((m) => m.id), batch: s.batch, threads: s.threads, warmup: s.warmup, runs: s.runs, min_run_seconds: s.minRunSeconds };
    const run = spawnSync(python, [SCRIPT, JSON.stringify(cfg)], { encoding: 'utf8', maxBuffer: 16 * 2 ** 20 });
    if (run.error || run.status !== 0) {
      return { rows: [], notes: [`skipped: torch_step.py failed (${run.error?.message ?? run.stderr.trim().split('\n').pop()})`] };
    }
    const rows: BenchRow[] = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as TorchLine)
      .map((l) => {
        const label = BENCH_MODELS.find((m) => m.id === l.model)!.label;
        const timing = summarize(l.per_iteration, l.iterations);
        const tp = throughput(timing, s.batch);
        return { case: `torch ${l.torch} ${label} (${l.params.toLocaleString('en-US')} params), batch ${s.batch}`, threads: l.threads, value: tp.value, unit: 'samples/s', range: tp.range, note: `${(timing.median * 1000).toFixed(2)} ms/step` };
      });
    return { rows, notes: [] };
  },
};
