/**
 * `gradfleet quantize <run-dir | model.onnx>`: post-training quantization of a trained model.
 * Writes model.int8.onnx (static int8, QDQ: per-channel weights, per-tensor activations
 * calibrated on training samples) and model.fp16.onnx (float16 weights) next to the model, and
 * compares them with the float32 model on the job's test split: file size, accuracy, loss,
 * latency. The data comes from the run directory's job (job-identity.json), or --config.
 *
 *   gradfleet quantize runs/fashion-default-2026-12-06T20-50-09-927Z [--calibration 512]
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from '@commander-js/extra-typings';
import { integerOption } from './train.js';
import { CliUsageError } from './errors.js';

export function registerQuantizeCommand(program: Command): void {
  program
    .command('quantize')
    .description('int8 (static, QDQ) and fp16 copies of a trained model, compared with it on the test split: size, accuracy, latency')
    .argument('<model>', "a run directory (its model.onnx and its job's data) or a model.onnx file (with --config)")
    .option('--config <file>', "job file whose data scores the model (default: the run directory's job)")
    .option('--calibration <n>', 'training samples the int8 activation ranges are measured on', integerOption('--calibration', 1), 512)
    .option('--split <split>', 'split the models are scored on: test or validation', 'test')
    .option('--out <dir>', 'where the quantized models and quantize-report.json go (default: next to the model)')
    .action(async (target, opts) => {
      const { quantizeModel } = await import('../quantize/quantize-model.js');
      if (opts.split !== 'test' && opts.split !== 'validation') throw new CliUsageError(`--split must be test or validation, got '${opts.split}'`);
      const isDir = existsSync(target) && statSync(target).isDirectory();
      const modelFile = isDir ? join(target, 'model.onnx') : target;
      if (!existsSync(modelFile)) throw new CliUsageError(`${modelFile}: no such model file`);
      const report = await quantizeModel({
        modelFile,
        runDir: isDir ? target : undefined,
        configFile: opts.config,
        calibration: opts.calibration,
        split: opts.split,
        outDir: opts.out ?? dirname(resolve(modelFile)),
      });
      for (const line of report.lines) process.stdout.write(`${line}\n`);
      writeFileSync(join(opts.out ?? dirname(resolve(modelFile)), 'quantize-report.json'), `${JSON.stringify(report.json, null, 1)}\n`);
    });
}
