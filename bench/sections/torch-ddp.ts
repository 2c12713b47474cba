/**
 * torch DDP on loopback, the PyTorch peer of the cluster: bench/torch_ddp.py trains the MLP
 * 784-256-128-10 on synthetic data with W processes (gloo, one thread each, the global batch
 * split evenly), mean cross-entropy, clip 1.0, AdamW lr 1e-3 weight decay 0.01, and reports
 * global samples/s. One process without DDP is measured beside it as a sanity line. Skips with a
 * note when torch is not importable.
 */
import { probeTorch, runTorchScript, torchSkipNote } from '../python.js';
import { summarize, throughput, type Timing } from '../timing.js';
import type { BenchContext, BenchRow, BenchSection, SectionResult } from '../section.js';

/** One torch DDP measurement: see bench/torch_ddp.py. */
export interface TorchDdpOptions {
  /** Processes (ranks); 1 runs the same loop without DDP. */
  world: number;
  /** Samples per step over all ranks; must divide evenly by world. */
  globalBatch: number;
  /** Timed runs; the median is the figure. */
  runs: number;
  /** Untimed steps before timing. */
  warmup: number;
  /** Each timed run lasts at least this long (rank 0 picks the step count from a probe). */
  minRunSeconds: number;
  /** torch intra-op threads per rank (default 1, like a gradfleet worker). */
  threads?: number;
}

export interface TorchDdpResult {
  /** Seconds per step, one entry per timed run. */
  timing: Timing;
  /** Global samples per second (median, and slowest–fastest run). */
  samplesPerSecond: { value: number; range: [number, number] };
  torch: string;
  params: number;
}

interface DdpLine {
  world: number;
  global_batch: number;
  local_batch: number;
  threads: number;
  params: number;
  per_iteration: number[];
  iterations: number;
  torch: string;
}

/**
 * Runs torch_ddp.py once with these options; `{ skipped }` with the reason when torch is not
 * importable. For sections that set torch DDP beside gradfleet's cluster in the same bench run.
 * Throws (PythonScriptError) when the script itself fails.
 */
export async function measureTorchDdp(opts: TorchDdpOptions): Promise<TorchDdpResult | { skipped: string }> {
  const probe = await probeTorch();
  if (!probe.ok) return { skipped: torchSkipNote(probe) };
  const cfg = { world: opts.world, global_batch: opts.globalBatch, warmup: opts.warmup, runs: opts.runs, min_run_seconds: opts.minRunSeconds, threads: opts.threads ?? 1 };
  // Process start-up, rendezvous and the import of torch in every rank take a few seconds.
  const timeout = 120 + opts.runs * opts.minRunSeconds * 4;
  const lines = await runTorchScript<DdpLine>(probe.python, 'torch_ddp.py', cfg, timeout);
  if (lines.length !== 1) throw new Error(`torch_ddp.py printed ${lines.length} result lines, expected 1`);
  const line = lines[0]!;
  const timing = summarize(line.per_iteration, line.iterations);
  return { timing, samplesPerSecond: throughput(timing, line.global_batch), torch: line.torch, params: line.params };
}

const CASES = [
  { world: 2, globalBatch: 128 },
  { world: 2, globalBatch: 1024 },
  { world: 1, globalBatch: 128 },
  { world: 1, globalBatch: 1024 },
] as const;

export const torchDdpSection: BenchSection = {
  id: 'ddp',
  title: 'torch DDP on loopback (gloo, 1 thread per process; MLP 784-256-128-10, mean loss, AdamW wd 0.01 + clip 1.0, synthetic data)',
  async run(ctx: BenchContext): Promise<SectionResult> {
    const s = ctx.settings;
    const rows: BenchRow[] = [];
    for (const c of CASES) {
      ctx.log(`  ${c.world} process(es), global batch ${c.globalBatch}...`);
      let m: Awaited<ReturnType<typeof measureTorchDdp>>;
      try {
        m = await measureTorchDdp({ ...c, runs: s.runs, warmup: s.warmup, minRunSeconds: s.minRunSeconds });
      } catch (err) {
        return { rows, notes: [`stopped: ${(err as Error).message}`] };
      }
      if ('skipped' in m) return { rows, notes: [m.skipped] };
      const who = c.world === 1 ? 'torch, 1 process without DDP (sanity line)' : `torch DDP, ${c.world} processes`;
      rows.push({
        case: `${who}, global batch ${c.globalBatch} (${c.globalBatch / c.world} per process), torch ${m.torch}`,
        threads: 1,
        value: m.samplesPerSecond.value,
        unit: 'samples/s',
        range: m.samplesPerSecond.range,
        note: `${(m.timing.median * 1000).toFixed(2)} ms/step, ${m.timing.iterations} steps per run`,
      });
    }
    return { rows, notes: [] };
  },
};
