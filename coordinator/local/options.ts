/**
 * Options of the single-process trainer → defaults → validated values. The defaults are the
 * README's quick start: the embedded default MLP on the bundled digits (8,000 train / 1,000
 * validation / 1,000 test), Adam at 1e-3, batch 64, 2 epochs, one onnxruntime thread.
 */
import type { ModelSpec, ModelSpecInput } from '../../shared/model/spec.js';
import type { SplitData } from '../../shared/data/split.js';
import type { Device } from '../../shared/engine/device.js';
import { cpuDevice } from '../../shared/engine/cpu.js';
import type { OptimizerConfig, LrScheduleConfig } from '../optim/index.js';
import type { ClipConfig } from '../aggregate/index.js';
import type { LocalTrainEvent } from './events.js';
import { LocalOptionError } from './errors.js';

export interface LocalTrainOptions {
  /** Model spec; default: the embedded default MLP (shared/model/defaults.ts). */
  model?: ModelSpecInput | ModelSpec;
  /**
   * Seed of the initial parameters. Default: the spec's own seed when `model` is given, `seed`
   * for the embedded default.
   */
  initSeed?: number;
  /** Train/validation/test data; default: the bundled digits split by `split` and `seed`. */
  data?: SplitData;
  /** Held-out counts (or fractions) of the bundled digits when `data` is not given. */
  split?: { validation: number; test: number };
  /** Seed of the data split, the epoch permutations and the dropout masks. */
  seed?: number;
  epochs?: number;
  /** Samples per optimizer step (the last step of an epoch holds the remainder). */
  batch?: number;
  /**
   * Samples per graph run; a step's micro-batches are summed in index order exactly as the
   * coordinator does, so the same micro-batch size gives the cluster's parameters bit for bit.
   * Default: the whole batch in one run.
   */
  microBatch?: number;
  optimizer?: OptimizerConfig;
  /** Peak learning rate of the default constant schedule (not with `schedule`). */
  lr?: number;
  schedule?: LrScheduleConfig;
  clip?: ClipConfig;
  /** Where the graphs run; default: the CPU with one intra-op thread. */
  device?: Device;
  /** Samples per evaluation run. */
  evalBatch?: number;
  /** This many non-finite steps in a row stop training with DivergedError. */
  maxConsecutiveSkips?: number;
  /** Receives progress (steps, epochs, evaluations) as training goes; the CLI prints it. */
  onEvent?: (event: LocalTrainEvent) => void;
}

export interface ResolvedLocalOptions {
  model: ModelSpecInput | ModelSpec | undefined;
  initSeed: number | undefined;
  data: SplitData | undefined;
  split: { validation: number; test: number };
  seed: number;
  epochs: number;
  batch: number;
  microBatch: number;
  optimizer: OptimizerConfig;
  schedule: LrScheduleConfig;
  clip: ClipConfig;
  device: Device;
  evalBatch: number;
  maxConsecutiveSkips: number;
  onEvent: (event: LocalTrainEvent) => void;
}

export const LOCAL_DEFAULTS = {
  split: { validation: 1000, test: 1000 },
  seed: 42,
  epochs: 2,
  batch: 64,
  optimizer: { kind: 'adam' } as OptimizerConfig,
  lr: 1e-3,
  evalBatch: 500,
  maxConsecutiveSkips: 5,
} as const;

/** Fills in defaults and checks what the trainer itself uses (optimizer and schedule check their own fields). */
export function resolveLocalOptions(o: LocalTrainOptions): ResolvedLocalOptions {
  const seed = o.seed ?? LOCAL_DEFAULTS.seed;
  requireInt('seed', seed, -(2 ** 31), 2 ** 32 - 1);
  if (o.initSeed !== undefined) requireInt('initSeed', o.initSeed, -(2 ** 31), 2 ** 32 - 1);
  const epochs = o.epochs ?? LOCAL_DEFAULTS.epochs;
  requireInt('epochs', epochs, 1);
  const batch = o.batch ?? LOCAL_DEFAULTS.batch;
  requireInt('batch', batch, 1);
  const microBatch = o.microBatch ?? batch;
  requireInt('microBatch', microBatch, 1, batch);
  const evalBatch = o.evalBatch ?? LOCAL_DEFAULTS.evalBatch;
  requireInt('evalBatch', evalBatch, 1);
  const maxConsecutiveSkips = o.maxConsecutiveSkips ?? LOCAL_DEFAULTS.maxConsecutiveSkips;
  requireInt('maxConsecutiveSkips', maxConsecutiveSkips, 1);
  if (o.schedule !== undefined && o.lr !== undefined) {
    throw new LocalOptionError('lr', o.lr, `cannot be combined with \`schedule\` (its lr, ${o.schedule.lr}, is the peak rate)`);
  }
  const lr = o.lr ?? LOCAL_DEFAULTS.lr;
  if (!(Number.isFinite(lr) && lr > 0)) throw new LocalOptionError('lr', lr, 'must be > 0');
  if (o.data !== undefined && o.split !== undefined) {
    throw new LocalOptionError('split', o.split, 'applies to the bundled digits only; `data` is already split');
  }
  return {
    model: o.model,
    initSeed: o.initSeed,
    data: o.data,
    split: o.split ?? { ...LOCAL_DEFAULTS.split },
    seed,
    epochs,
    batch,
    microBatch,
    optimizer: o.optimizer ?? { ...LOCAL_DEFAULTS.optimizer },
    schedule: o.schedule ?? { kind: 'constant', lr },
    clip: o.clip ?? {},
    device: o.device ?? cpuDevice(1),
    evalBatch,
    maxConsecutiveSkips,
    onEvent: o.onEvent ?? (() => {}),
  };
}

/** lo ≤ v ≤ hi, v an integer. */
function requireInt(option: string, v: number, lo: number, hi = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(v) || v < lo || v > hi) {
    const range = hi === Number.MAX_SAFE_INTEGER ? `≥ ${lo}` : `in [${lo}, ${hi}]`;
    throw new LocalOptionError(option, v, `must be an integer ${range}`);
  }
}
