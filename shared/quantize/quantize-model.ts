/**
 * `gradfleet quantize`'s work: reads the model and the job's data, calibrates, writes the int8
 * and fp16 models, scores all three on a split and words the comparison.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { decodeModel, encodeModel } from '../onnx/model.js';
import { scoringSplit } from '../data/model-job.js';
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
  const { data, indices } = await scoringSplit(o, o.split, 'the models');
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

function reportLines(vs: readonly VariantReport[], split: string, activations: number, calibration: number): string[] {
  const base = vs[0]!;
  const rows = vs.map((v) => [v.variant, `${(v.bytes / 1024).toFixed(1)} KiB`, `${(base.bytes / v.bytes).toFixed(2)}×`, v.accuracy.toFixed(4), `${((v.accuracy - base.accuracy) * 100).toFixed(2)}`, v.loss.toFixed(4), `${(v.latencyMs * 1000).toFixed(0)} µs`, Math.round(v.samplesPerSecond).toLocaleString('en-US')]);
  const header = ['model', 'size', 'smaller', `${split} accuracy`, 'Δ points', 'loss', 'latency (batch 1)', 'samples/s (batch 256)'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const row = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [`int8: static, ${activations} activation ranges calibrated on ${calibration} training samples; per-channel weights`, row(header), ...rows.map(row), ...vs.slice(1).map((v) => `${v.variant}: ${v.file}`)];
}
