/**
 * `gradfleet quantize`'s work: reads the model and the job's data, calibrates, writes the int8
 * and fp16 models, scores all three on a split and words the comparison.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { decodeModel, encodeModel } from '../onnx/model.js';
import { prepareJobData } from '../data/job-dataset.js';
import { parseJob, readJobFile } from '../../coordinator/job/load.js';
import type { JobConfig } from '../../coordinator/job/schema.js';
import { calibrate } from './calibrate.js';
import { toFloat16, toInt8 } from './rewrite.js';
import { scoreModel, type ModelScore } from './evaluate.js';

export interface QuantizeOptions {
  modelFile: string;
  runDir?: string;
  configFile?: string;
  calibration: number;
  split: 'test' | 'validation';
  outDir: string;
}

export interface VariantReport extends ModelScore {
  variant: 'fp32' | 'fp16' | 'int8';
  file: string;
  bytes: number;
}

export async function quantizeModel(o: QuantizeOptions): Promise<{ lines: string[]; json: { split: string; calibration: number; variants: VariantReport[] } }> {
  const { config, baseDir } = jobOf(o);
  const data = await prepareJobData(config.data, { baseDir }, config.seed);
  const indices = o.split === 'test' ? data.testIndices : data.validationIndices;
  if (indices.length === 0) throw new Error(`the job has no ${o.split} split to score the models on`);
  const model = decodeModel(readFileSync(o.modelFile));
  const ranges = await calibrate(model, data.dataset, data.trainIndices.subarray(0, Math.min(o.calibration, data.trainIndices.length)));
  mkdirSync(o.outDir, { recursive: true });
  const stem = join(o.outDir, 'model');
  const files = { fp32: resolve(o.modelFile), int8: `${stem}.int8.onnx`, fp16: `${stem}.fp16.onnx` };
  writeFileSync(files.int8, encodeModel(toInt8(model, ranges)));
  writeFileSync(files.fp16, encodeModel(toFloat16(model)));
  const variants: VariantReport[] = [];
  for (const variant of ['fp32', 'fp16', 'int8'] as const) {
    const bytes = readFileSync(files[variant]);
    variants.push({ variant, file: files[variant], bytes: bytes.length, ...(await scoreModel(bytes, data.dataset, indices)) });
  }
  return { lines: reportLines(variants, o.split, ranges.size, o.calibration), json: { split: o.split, calibration: o.calibration, variants } };
}

/** The run directory's job (job-identity.json keeps its config), or --config. */
function jobOf(o: QuantizeOptions): { config: JobConfig; baseDir: string } {
  if (o.configFile) {
    const { config, baseDir } = readJobFile(o.configFile);
    return { config, baseDir };
  }
  const identity = o.runDir ? join(o.runDir, 'job-identity.json') : join(dirname(o.modelFile), 'job-identity.json');
  if (!existsSync(identity) || !statSync(identity).isFile()) throw new Error(`${o.modelFile}: no run directory job (job-identity.json) next to it; name the job file with --config`);
  const saved = JSON.parse(readFileSync(identity, 'utf8')) as { config?: unknown };
  if (!saved.config) throw new Error(`${identity} holds no job config (written before it kept one); name the job file with --config`);
  return { config: parseJob(saved.config, identity), baseDir: process.cwd() };
}

function reportLines(vs: readonly VariantReport[], split: string, activations: number, calibration: number): string[] {
  const base = vs[0]!;
  const rows = vs.map((v) => [v.variant, `${(v.bytes / 1024).toFixed(1)} KiB`, `${(base.bytes / v.bytes).toFixed(2)}×`, v.accuracy.toFixed(4), `${((v.accuracy - base.accuracy) * 100).toFixed(2)}`, v.loss.toFixed(4), `${(v.latencyMs * 1000).toFixed(0)} µs`, Math.round(v.samplesPerSecond).toLocaleString('en-US')]);
  const header = ['model', 'size', 'smaller', `${split} accuracy`, 'Δ points', 'loss', 'latency (batch 1)', 'samples/s (batch 256)'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const row = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [`int8: static, ${activations} activation ranges calibrated on ${calibration} training samples; per-channel weights`, row(header), ...rows.map(row), ...vs.slice(1).map((v) => `${v.variant}: ${v.file}`)];
}
