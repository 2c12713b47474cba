/**
 * `gradfleet train`: trains a model on the bundled digits in this process, through the compiled
 * training graph, printing loss and accuracy as it goes (the README's quick start).
 *
 *   gradfleet train [--epochs 2] [--batch 64] [--lr 0.001] [--seed 42] [--model spec.yaml]
 *                   [--device cpu|cuda] [--threads 1]
 */
import { Option, type Command } from '@commander-js/extra-typings';
import { trainLocally, progressPrinter, LOCAL_DEFAULTS, type LocalTrainResult } from '../../coordinator/local/index.js';
import { OPTIMIZER_KINDS, type OptimizerKind } from '../../coordinator/optim/index.js';
import { loadModelSpec } from '../model/load.js';
import { deviceFor, DEVICE_KINDS } from '../engine/registry.js';
import type { DeviceKind } from '../engine/device.js';
import { CliUsageError } from './errors.js';

export interface TrainCommandOptions {
  epochs: number;
  batch: number;
  microBatch?: number;
  lr: number;
  optimizer: OptimizerKind;
  seed: number;
  model?: string;
  device: DeviceKind;
  threads: number;
}

export function registerTrainCommand(program: Command): void {
  program
    .command('train')
    .description('train a model on the bundled MNIST digits in this process (8,000 train / 1,000 validation / 1,000 test), printing loss and accuracy as it goes')
    .option('--epochs <n>', 'passes over the training data', integerOption('--epochs', 1), LOCAL_DEFAULTS.epochs)
    .option('--batch <n>', 'samples per optimizer step', integerOption('--batch', 1), LOCAL_DEFAULTS.batch)
    .option('--micro-batch <n>', 'samples per graph run; gradients of a step are summed in order as on the cluster (default: the whole batch)', integerOption('--micro-batch', 1))
    .option('--lr <rate>', 'learning rate', positiveOption('--lr'), LOCAL_DEFAULTS.lr)
    .addOption(new Option('--optimizer <kind>', 'optimizer').choices(OPTIMIZER_KINDS).default('adam' as OptimizerKind))
    .option('--seed <n>', 'seed of the data split, epoch order and dropout masks (and of the initial weights of the default model)', integerOption('--seed', -(2 ** 31)), LOCAL_DEFAULTS.seed)
    .option('--model <spec>', 'model spec (.json, .yaml) instead of the embedded default MLP 784-256-128-10; its own seed initialises the weights')
    .addOption(new Option('--device <kind>', 'where the graphs run').choices(DEVICE_KINDS).default('cpu' as DeviceKind))
    .option('--threads <n>', 'onnxruntime intra-op threads on the CPU', integerOption('--threads', 1), 1)
    .action(async (opts) => {
      await runTrain(opts, (line) => process.stdout.write(`${line}\n`));
    });
}

/** Trains as the options say, writing progress lines through `write`. */
export async function runTrain(opts: TrainCommandOptions, write: (line: string) => void): Promise<LocalTrainResult> {
  if (opts.microBatch !== undefined && opts.microBatch > opts.batch) {
    throw new CliUsageError(`--micro-batch (${opts.microBatch}) must not exceed --batch (${opts.batch})`);
  }
  if (opts.device !== 'cpu' && opts.threads !== 1) write(`note: --threads applies to the CPU device only; ignored for ${opts.device}`);
  const result = await trainLocally({
    model: opts.model === undefined ? undefined : loadModelSpec(opts.model),
    seed: opts.seed,
    epochs: opts.epochs,
    batch: opts.batch,
    microBatch: opts.microBatch,
    optimizer: { kind: opts.optimizer },
    lr: opts.lr,
    device: deviceFor(opts.device, { threads: opts.threads }),
    onEvent: progressPrinter(write),
  });
  const acc = result.test?.accuracy;
  write(`done in ${result.wallSeconds.toFixed(1)} s: ${result.steps} steps${result.skippedSteps > 0 ? ` (${result.skippedSteps} skipped)` : ''}${acc === null || acc === undefined ? '' : `, test accuracy ${acc.toFixed(4)}`}`);
  return result;
}

/** Commander parser for an integer option ≥ `min`. */
export function integerOption(flag: string, min: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < min) throw new CliUsageError(`${flag} must be an integer ≥ ${min}, got '${v}'`);
    return n;
  };
}

/** Commander parser for a number > 0. */
export function positiveOption(flag: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new CliUsageError(`${flag} must be a number > 0, got '${v}'`);
    return n;
  };
}
