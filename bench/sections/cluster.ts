/**
 * End-to-end training throughput of the cluster on loopback: `coordinator start --local-workers N`
 * (a coordinator process and N worker processes over gRPC on 127.0.0.1) trains a fixed number of
 * steps of the default MLP on the bundled digits — global batch 128 in micro-batches of 32, Adam,
 * dropout — and the samples/s come from the step lines' timestamps in metrics.jsonl after a few
 * warm-up steps, so process start-up, graph compilation, the first transfers and the final test
 * evaluation are excluded. The single-process loop (coordinator/local) over the same graph and
 * arithmetic is measured in the same section, under the same load, as the baseline.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trainLocally } from '../../coordinator/local/index.js';
import { defaultJob } from '../../coordinator/job/default-job.js';
import type { JobInput } from '../../coordinator/job/schema.js';
import { cpuDevice } from '../../shared/engine/cpu.js';
import { NODE_FLAGS } from '../../shared/node-flags.js';
import { summarize, throughput } from '../timing.js';
import type { BenchContext, BenchRow, BenchSection, SectionResult } from '../section.js';

const COORDINATOR_BIN = fileURLToPath(new URL('../../bin/coordinator.mjs', import.meta.url));
const WORKER_COUNTS = [1, 2];
/** Steps per cluster run; the first WARMUP_STEPS are not timed. */
const STEPS = 60;
const WARMUP_STEPS = 5;
const BATCH = 128;
const MICRO = 32;

/** The default job, cut to STEPS steps with no evaluation in between (one epoch is 63 steps). */
function benchJob(): JobInput {
  const { early_stopping: _unused, ...job } = defaultJob();
  return { ...job, name: 'bench-cluster', max_steps: STEPS, batch: { global: BATCH, micro: MICRO }, eval: { every: 'epoch' }, workers: { threads: 1 } };
}

interface StepLine {
  type: string;
  step: number;
  samples: number;
  time: number;
}

/** Runs the job on a local cluster of `workers` processes; returns seconds per sample over the timed steps. */
async function clusterRun(workers: number): Promise<{ perSample: number; samples: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'gradfleet-bench-cluster-'));
  try {
    const jobFile = join(dir, 'job.json');
    writeFileSync(jobFile, JSON.stringify(benchJob()));
    const runDir = join(dir, 'run');
    const child = spawn(process.execPath, [...NODE_FLAGS, COORDINATOR_BIN, 'start', '--config', jobFile, '--port', '0', '--host', '127.0.0.1', '--local-workers', String(workers), '--run-dir', runDir], {
      env: { ...process.env, GRADFLEET_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (c) => resolve(c));
    });
    if (code !== 0) throw new Error(`coordinator start --local-workers ${workers} exited with ${code}: ${stderr.slice(-2000)}`);
    const steps = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as StepLine)
      .filter((l) => l.type === 'step');
    if (steps.length !== STEPS) throw new Error(`expected ${STEPS} step lines, found ${steps.length}`);
    // From the end of the last warm-up step to the end of the last step: the steps in between.
    const timed = steps.slice(WARMUP_STEPS);
    const samples = timed.reduce((a, s) => a + s.samples, 0);
    const seconds = (steps.at(-1)!.time - steps[WARMUP_STEPS - 1]!.time) / 1000;
    return { perSample: seconds / samples, samples };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const clusterSection: BenchSection = {
  id: 'cluster',
  title: `Cluster end to end on loopback (default MLP, batch ${BATCH} in micro-batches of ${MICRO}, Adam; coordinator + N worker processes over gRPC) vs the single-process loop`,
  async run(ctx: BenchContext): Promise<SectionResult> {
    const rows: BenchRow[] = [];
    // A cluster run lasts several seconds (start-up included): a few runs give a median.
    const runs = Math.max(1, Math.min(ctx.settings.runs, 3));
    for (const workers of WORKER_COUNTS) {
      ctx.log(`  ${workers} worker process(es), ${runs} run(s) of ${STEPS} steps...`);
      const perSample: number[] = [];
      let samples = 0;
      for (let r = 0; r < runs; r++) {
        const m = await clusterRun(workers);
        perSample.push(m.perSample);
        samples = m.samples;
      }
      const tp = throughput(summarize(perSample, samples), 1);
      rows.push({ case: `cluster, ${workers} worker process(es)`, threads: 1, value: tp.value, unit: 'samples/s', range: tp.range, note: `steps ${WARMUP_STEPS + 1}–${STEPS} (${samples} samples) of ${runs} run(s); 1 onnxruntime thread per worker` });
    }
    ctx.log(`  single-process loop, ${runs} epoch(s)...`);
    const local: number[] = [];
    let localSamples = 0;
    for (let r = 0; r < runs; r++) {
      const result = await trainLocally({ epochs: 1, batch: BATCH, microBatch: MICRO, device: cpuDevice(1) });
      const epoch = result.history[0]!;
      localSamples = epoch.samples;
      local.push(epoch.seconds / epoch.samples);
    }
    const tp = throughput(summarize(local, localSamples), 1);
    rows.push({ case: 'single-process loop (coordinator/local), same graph and arithmetic', threads: 1, value: tp.value, unit: 'samples/s', range: tp.range, note: `${runs} epoch(s) of ${localSamples} samples, evaluation excluded` });
    return { rows, notes: [] };
  },
};
