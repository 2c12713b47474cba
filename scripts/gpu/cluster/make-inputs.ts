/**
 * The cluster scaling run's inputs (scripts/gpu/cluster/README in scripts/gpu/README.md):
 * - the bundled digits (shared/data/digits.ts: the `mnist` package's 10,000 digits, interleaved by
 *   class) as two gzip'd IDX files, so that the bundles need not carry the 41 MB `mnist` package:
 *   `digits-images-idx3-f32.gz` (float32 [10000, 28, 28]: the package's values exactly, so these
 *   jobs train on the same numbers as `data: { source: digits }`) and `digits-labels-idx1.gz`;
 * - one job file per model, `job-mlp.json` (the default MLP 784-256-128-10 with dropout) and
 *   `job-cnn.json` (bench/models.ts's CNN conv8-pool-conv16-pool-dense10): global batch 512 in
 *   micro-batches of 64, Adam, a fixed number of steps, no evaluation or checkpoint while training
 *   (both would sit inside the timed steps), one onnxruntime thread per worker.
 *   npx tsx scripts/gpu/cluster/make-inputs.ts OUT_DIR [--mlp-steps N] [--cnn-steps N]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { DIGIT_SIDE, loadDigits } from '../../../shared/data/digits.js';
import { encodeIdx } from '../../../shared/data/idx-format.js';
import type { JobInput } from '../../../coordinator/job/schema.js';
import { jobSchema } from '../../../coordinator/job/schema.js';
import { BENCH_MODELS } from '../../../bench/models.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { 'mlp-steps': { type: 'string', default: '150' }, 'cnn-steps': { type: 'string', default: '120' } } });
const out = positionals[0];
if (!out) {
  process.stderr.write('usage: make-inputs.ts OUT_DIR [--mlp-steps N] [--cnn-steps N]\n');
  process.exit(2);
}
mkdirSync(out, { recursive: true });

const IMAGES = 'digits-images-idx3-f32.gz';
const LABELS = 'digits-labels-idx1.gz';
const ds = loadDigits();
const images = encodeIdx({ type: 'float32', dims: [ds.size, DIGIT_SIDE, DIGIT_SIDE], data: ds.features });
const labels = encodeIdx({ type: 'ubyte', dims: [ds.size], data: Uint8Array.from(ds.labels) });
for (const [name, bytes] of [[IMAGES, images], [LABELS, labels]] as const) {
  const gz = gzipSync(bytes, { level: 9 });
  writeFileSync(join(out, name), gz);
  process.stdout.write(`  ${name}: ${ds.size} samples, ${(gz.length / 1048576).toFixed(2)} MiB gzip'd\n`);
}

/** A scaling job: everything but the model, its input shape and its step count is shared. */
function job(name: string, model: JobInput['model'], shape: number[] | undefined, steps: number): JobInput {
  return {
    name,
    seed: 42,
    model,
    data: { source: 'idx', train_images: IMAGES, train_labels: LABELS, ...(shape ? { shape } : {}), split: { validation: 0.1, test: 0.1 } },
    batch: { global: 512, micro: 64 },
    // 8,000 training samples: 15.6 steps an epoch; max_steps ends the job.
    epochs: 1000,
    max_steps: steps,
    optimizer: { kind: 'adam', lr: 0.001 },
    // Evaluation and checkpoints only after the last step, outside the timed window.
    eval: { every: 1_000_000 },
    checkpoint: { every_steps: 1_000_000, keep: 1 },
    workers: { threads: 1 },
  };
}

const cnn = BENCH_MODELS.find((m) => m.id === 'cnn')!;
const jobs = {
  'job-mlp.json': job('cluster-mlp', { spec: 'default' }, undefined, Number(values['mlp-steps'])),
  'job-cnn.json': job('cluster-cnn', { spec: cnn.spec as Record<string, unknown> }, [1, DIGIT_SIDE, DIGIT_SIDE], Number(values['cnn-steps'])),
};
for (const [file, j] of Object.entries(jobs)) {
  jobSchema.parse(j); // fail here, not on the GPU machine
  writeFileSync(join(out, file), `${JSON.stringify(j, null, 2)}\n`);
  process.stdout.write(`  ${file}: ${j.max_steps} steps of ${j.batch!.global} (micro ${j.batch!.micro})\n`);
}
