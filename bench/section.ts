/**
 * The contract of a benchmark section. Each section lives in its own file under sections/ and
 * is listed in sections/index.ts; the runner executes the chosen ones and prints one table.
 * A section for the cluster (end-to-end samples/s with N workers, say) is one more file and one
 * more line in the list.
 */

export interface BenchSettings {
  /** Timed runs per case; the table reports their median. */
  runs: number;
  /** Untimed iterations before timing (session warm-up, allocator, JIT). */
  warmup: number;
  /** Each timed run repeats the work until it lasts at least this long. */
  minRunSeconds: number;
  /** onnxruntime intra-op thread counts to measure (and torch's, for the reference). */
  threads: number[];
  /** Samples per gradient step. */
  batch: number;
}

export interface BenchContext {
  settings: BenchSettings;
  /** Progress for the human watching (the table comes at the end). */
  log(line: string): void;
}

/** One measured figure. */
export interface BenchRow {
  /** What was measured, e.g. 'mlp 784-256-128-10, batch 128'. */
  case: string;
  /** Intra-op threads, where that matters. */
  threads?: number;
  /** Median over the timed runs. */
  value: number;
  /** Unit of value, e.g. 'samples/s' or 'ms'. */
  unit: string;
  /** Smallest and largest of the timed runs, in the same unit. */
  range?: [number, number];
  /** Anything the figure needs to be read right. */
  note?: string;
}

export interface SectionResult {
  rows: BenchRow[];
  /** Why a section measured nothing or less than usual (e.g. PyTorch not installed). */
  notes: string[];
}

export interface BenchSection {
  /** Short id for `gradfleet bench --section <id>`. */
  id: string;
  title: string;
  run(ctx: BenchContext): Promise<SectionResult>;
}
