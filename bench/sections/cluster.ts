/**
 * The cluster end to end on loopback, side by side with its peers in one section (issue 8,
 * targets 2, 3 and 6): `coordinator start --local-workers N` (a coordinator process and N worker
 * processes over gRPC on 127.0.0.1) trains the benchmark MLP (784-256-128-10) on the bundled
 * digits with AdamW (weight decay 0.01) and clipping at 1.0, micro-batches of 128, at global
 * batches 128 and 1024; beside it, in the same section and so under the same load:
 * - the single-process loop (coordinator/local) over the same graph, arithmetic and batches;
 * - torch DDP (bench/torch_ddp.py: gloo, 2 processes on loopback, the same model, global batch,
 *   optimizer and clipping).
 * Samples/s come from the step lines' timestamps in metrics.jsonl after a few warm-up steps, so
 * process start-up, graph compilation and the first transfers are excluded. Bytes per worker and
 * step come from summary.json's `transfer` (tensor payload through the coordinator), against
 * 8·P for float32 (P·4 down, P·4 up) and 4·P for fp16. A compressed result is one micro-batch's
 * gradient (a rounded pre-reduced sum would depend on the worker count), so the fp16 case uses
 * micro-batches of global/workers: one upload of P·2 per worker and step.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trainLocally } from '../../coordinator/local/index.js';
import type { JobInput } from '../../coordinator/job/schema.js';
import { cpuDevice } from '../../shared/engine/cpu.js';
import { NODE_FLAGS, PROCESS_ENV } from '../../shared/node-flags.js';
import type { CodecName } from '../../shared/tensor/index.js';
import { BENCH_MODELS } from '../models.js';
import { summarize, throughput } from '../timing.js';
import { measureTorchDdp } from './torch-ddp.js';
import type { BenchContext, BenchRow, BenchSection, SectionResult } from '../section.js';

const COORDINATOR_BIN = fileURLToPath(new URL('../../bin/coordinator.mjs', import.meta.url));
const MLP = BENCH_MODELS.find((m) => m.id === 'mlp')!;
const MICRO = 128;
/** Steps per cluster run; the first WARMUP_STEPS are not timed. */
const STEPS = 60;
const WARMUP_STEPS = 5;

interface Case {
  global: number;
  workers: number;
  compression: CodecName;
  /** Micro-batch size (default MICRO). */
  micro?: number;
}

const CASES: readonly Case[] = [
  { global: 128, workers: 1, compression: 'none' },
  { global: 128, workers: 2, compression: 'none' },
  { global: 1024, workers: 1, compression: 'none' },
  { global: 1024, workers: 2, compression: 'none' },
  { global: 1024, workers: 2, compression: 'fp16', micro: 512 },
];

/** The benchmark job: no validation or test split (no evaluation between the timed steps). */
function benchJob(c: Case): JobInput {
  return {
    name: 'bench-cluster',
    seed: 42,
    model: { spec: MLP.spec },
    data: { source: 'digits', split: { validation: 0, test: 0 } },
    batch: { global: c.global, micro: c.micro ?? MICRO },
    epochs: 1000,
    max_steps: STEPS,
    optimizer: { kind: 'adamw', lr: 0.001, weight_decay: 0.01 },
    clip: { max_norm: 1 },
    eval: { every: 'epoch' },
    workers: { threads: 1, compression: c.compression },
  } as JobInput;
}

interface StepLine {
  type: string;
  step: number;
  samples: number;
  time: number;
}

interface ClusterRun {
  perSample: number;
  samples: number;
  /** Tensor payload bytes per worker per step, and P. */
  bytesPerWorkerStep: number;
  params: number;
}

/** Runs the job on a local cluster of `workers` processes. */
async function clusterRun(c: Case): Promise<ClusterRun> {
  const dir = mkdtempSync(join(tmpdir(), 'gradfleet-bench-cluster-'));
  try {
    const jobFile = join(dir, 'job.json');
    writeFileSync(jobFile, JSON.stringify(benchJob(c)));
    const runDir = join(dir, 'run');
    const child = spawn(process.execPath, [...NODE_FLAGS, COORDINATOR_BIN, 'start', '--config', jobFile, '--port', '0', '--host', '127.0.0.1', '--local-workers', String(c.workers), '--run-dir', runDir], {
      env: { ...process.env, ...PROCESS_ENV, GRADFLEET_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (x) => resolve(x));
    });
    if (code !== 0) throw new Error(`coordinator start --local-workers ${c.workers} exited with ${code}: ${stderr.slice(-2000)}`);
    const steps = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as StepLine)
      .filter((l) => l.type === 'step');
    if (steps.length !== STEPS) throw new Error(`expected ${STEPS} step lines, found ${steps.length}`);
    const timed = steps.slice(WARMUP_STEPS);
    const samples = timed.reduce((a, s) => a + s.samples, 0);
    const seconds = (steps.at(-1)!.time - steps[WARMUP_STEPS - 1]!.time) / 1000;
    const summary = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as { transfer: { params_bytes_sent: number; gradient_bytes_received: number } };
    const params = (JSON.parse(readFileSync(join(runDir, 'final-params.json'), 'utf8')) as { values: number }[])[0]!.values;
    const bytes = summary.transfer.params_bytes_sent + summary.transfer.gradient_bytes_received;
    return { perSample: seconds / samples, samples, bytesPerWorkerStep: bytes / (c.workers * STEPS), params };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The single-process loop at the same batches and arithmetic (samples/s over whole epochs, the first not counted). */
async function localLoop(global: number, epochs: number) {
  const r = await trainLocally({ model: MLP.spec, epochs: epochs + 1, batch: global, microBatch: MICRO, device: cpuDevice(1), optimizer: { kind: 'adamw', weightDecay: 0.01 }, clip: { maxNorm: 1 } });
  const timed = r.history.slice(1);
  return throughput(summarize(timed.map((h) => h.seconds / h.samples), timed[0]!.samples), 1);
}

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');

export const clusterSection: BenchSection = {
  id: 'cluster',
  title: `Cluster end to end on loopback (${MLP.label}, AdamW wd 0.01 + clip 1.0, micro-batches of ${MICRO}; coordinator + N worker processes) beside the single-process loop and torch DDP`,
  async run(ctx: BenchContext): Promise<SectionResult> {
    const rows: BenchRow[] = [];
    const notes: string[] = [];
    const runs = Math.max(1, Math.min(ctx.settings.runs, 3));
    const baselines = new Map<number, { loop: number; ddp?: number; ddpTorch?: string }>();
    for (const global of [...new Set(CASES.map((c) => c.global))]) {
      ctx.log(`  global batch ${global}: single-process loop, torch DDP (2 processes)...`);
      const loop = await localLoop(global, 3);
      rows.push({ case: `single-process loop, global batch ${global} (${global / MICRO} micro-batch(es))`, threads: 1, value: loop.value, unit: 'samples/s', range: loop.range, note: '3 epochs after a warm-up epoch' });
      const ddp = await measureTorchDdp({ world: 2, globalBatch: global, runs: ctx.settings.runs, warmup: ctx.settings.warmup, minRunSeconds: ctx.settings.minRunSeconds });
      if ('skipped' in ddp) notes.push(`torch DDP ${ddp.skipped}`);
      else rows.push({ case: `torch ${ddp.torch} DDP, 2 processes (gloo), global batch ${global}`, threads: 1, value: ddp.samplesPerSecond.value, unit: 'samples/s', range: ddp.samplesPerSecond.range, note: 'bench/torch_ddp.py, 1 thread per process' });
      baselines.set(global, { loop: loop.value, ...('skipped' in ddp ? {} : { ddp: ddp.samplesPerSecond.value, ddpTorch: ddp.torch }) });
    }
    for (const c of CASES) {
      ctx.log(`  cluster: ${c.workers} worker(s), global batch ${c.global}, micro ${c.micro ?? MICRO}, ${c.compression}: ${runs} run(s) of ${STEPS} steps...`);
      const measured: ClusterRun[] = [];
      for (let r = 0; r < runs; r++) measured.push(await clusterRun(c));
      const tp = throughput(summarize(measured.map((m) => m.perSample), measured[0]!.samples), 1);
      const base = baselines.get(c.global)!;
      const bytes = measured.reduce((a, m) => a + m.bytesPerWorkerStep, 0) / measured.length;
      const ideal = (c.compression === 'fp16' ? 4 : 8) * measured[0]!.params;
      const parts = [
        `${((100 * tp.value) / base.loop).toFixed(0)} % of the loop (${fmt(base.loop)})`,
        ...(base.ddp ? [`${(tp.value / base.ddp).toFixed(2)}× torch DDP (${fmt(base.ddp)})`] : []),
        `${(bytes / 1e6).toFixed(3)} MB/worker/step = ${(bytes / ideal).toFixed(3)} × ${c.compression === 'fp16' ? 4 : 8}·P`,
      ];
      rows.push({ case: `cluster, ${c.workers} worker process(es), global batch ${c.global}${c.micro ? `, micro-batches of ${c.micro}` : ''}${c.compression === 'none' ? '' : `, ${c.compression} transfers`}`, threads: 1, value: tp.value, unit: 'samples/s', range: tp.range, note: parts.join('; ') });
    }
    return { rows, notes };
  },
};
