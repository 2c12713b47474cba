/**
 * The run directory: metrics.jsonl (a line per step, per evaluation and per resume),
 * summary.json, model.onnx, and checkpoints. Files that must never be seen half-written go through
 * writeAtomic (write to a temp file, fsync, rename, fsync the directory).
 */
import { mkdirSync, openSync, writeSync, fsyncSync, closeSync, renameSync, appendFileSync } from 'node:fs';
import { join, dirname } from 'node:path';

export function writeAtomic(path: string, data: Uint8Array | string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dfd = openSync(dirname(path), 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

export interface StepMetrics {
  type: 'step';
  run: string;
  step: number;
  epoch: number;
  loss: number;
  grad_norm: number;
  grad_norm_clipped: number;
  lr: number;
  samples: number;
  samples_per_s: number;
  skipped?: boolean;
  time: number;
}

export interface EvalMetrics {
  type: 'eval';
  run: string;
  step: number;
  epoch: number;
  split: string;
  loss: number;
  accuracy: number | null;
  count: number;
  head_losses?: number[];
  time: number;
}

/**
 * A coordinator resumed the run from a checkpoint at `step`: the records after that step were
 * removed (metrics-rewind.ts) and the resumed run writes them again after this one.
 */
export interface ResumeRecord {
  type: 'resume';
  run: string;
  step: number;
  epoch: number;
  /** The checkpoint file, relative to the run's directory (null: restored from contents not read from a file). */
  from: string | null;
  time: number;
}

export interface RunDirectoryOptions {
  /** Called with every metric line after it is on disk (the terminal progress line listens here). */
  onMetric?: (line: Record<string, unknown>) => void;
}

export class RunDirectory {
  readonly metricsPath: string;
  private readonly onMetric: ((line: Record<string, unknown>) => void) | undefined;

  constructor(
    readonly dir: string,
    opts: RunDirectoryOptions = {},
  ) {
    mkdirSync(dir, { recursive: true });
    this.metricsPath = join(dir, 'metrics.jsonl');
    this.onMetric = opts.onMetric;
  }

  /** Appends one JSON line (metrics are append-only; a torn last line is tolerated by readers). */
  metric(line: StepMetrics | EvalMetrics | ResumeRecord | Record<string, unknown>): void {
    appendFileSync(this.metricsPath, JSON.stringify(line) + '\n');
    this.onMetric?.(line as Record<string, unknown>);
  }

  writeJson(name: string, value: unknown): void {
    writeAtomic(join(this.dir, name), JSON.stringify(value, null, 2) + '\n');
  }

  writeBytes(name: string, bytes: Uint8Array): void {
    writeAtomic(join(this.dir, name), bytes);
  }

  path(name: string): string {
    return join(this.dir, name);
  }
}
