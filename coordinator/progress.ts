/**
 * The coordinator's progress line for a human on a terminal:
 *
 *   epoch 3/30  step 180/1890  loss 0.2431  val acc 0.9340  ETA 1m52s
 *
 * It is fed the metric lines the runs write (RunDirectory's `onMetric`), redrawn in place, and
 * shown only when stdout is a TTY; otherwise nothing extra is printed (machines read the pino
 * JSON log on stderr and metrics.jsonl). Folding lines into state (`foldMetric`) and turning
 * state into text (`formatProgress`, `estimateEta`) are pure; `terminalProgress` does the I/O.
 */
import type { JobConfig } from './job/schema.js';

/** What the line shows for one run, folded from its metric lines. */
export interface RunProgress {
  run: string;
  /** 1-based epoch in progress (the step lines carry it 0-based). */
  epoch: number;
  step: number;
  loss: number | null;
  valAccuracy: number | null;
  valLoss: number | null;
  testAccuracy: number | null;
  /** First step line seen: the ETA's clock starts there, so start-up does not count. */
  firstStep: number | null;
  firstStepTime: number | null;
  lastStepTime: number | null;
}

/** The fixed facts of a job the line needs: scheduled epochs and steps (early stopping may end sooner). */
export interface ProgressPlan {
  epochs: number;
  totalSteps: number;
}

/** Steps the job schedules, as TrainingRun counts them: max_steps, else whole epochs of global batches. */
export function plannedSteps(job: Pick<JobConfig, 'max_steps' | 'epochs' | 'batch'>, trainSize: number): ProgressPlan {
  const perEpoch = Math.ceil(trainSize / job.batch.global);
  return { epochs: job.epochs, totalSteps: job.max_steps ?? perEpoch * job.epochs };
}

export function initialProgress(run: string): RunProgress {
  return { run, epoch: 1, step: 0, loss: null, valAccuracy: null, valLoss: null, testAccuracy: null, firstStep: null, firstStepTime: null, lastStepTime: null };
}

/** A metric line as RunDirectory hands it over (StepMetrics, EvalMetrics or another record). */
export type MetricLine = Record<string, unknown>;

/** The state after one more metric line; lines of other kinds leave it as it was. */
export function foldMetric(state: RunProgress, line: MetricLine): RunProgress {
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  if (line.type === 'step') {
    const step = num(line.step) ?? state.step;
    const time = num(line.time);
    const first = state.firstStep === null;
    return {
      ...state,
      step,
      epoch: (num(line.epoch) ?? state.epoch - 1) + 1,
      // A skipped step (non-finite gradient) keeps the last finite loss on display.
      loss: line.skipped ? state.loss : (num(line.loss) ?? state.loss),
      firstStep: first ? step : state.firstStep,
      firstStepTime: first ? time : state.firstStepTime,
      lastStepTime: time ?? state.lastStepTime,
    };
  }
  if (line.type === 'eval' && line.split === 'validation') return { ...state, valAccuracy: num(line.accuracy), valLoss: num(line.loss) };
  if (line.type === 'eval' && line.split === 'test') return { ...state, testAccuracy: num(line.accuracy) };
  return state;
}

/**
 * Seconds left to the last scheduled step, at the mean pace since the first step line (which
 * includes the evaluations between steps, so the estimate does not jump at each one). Null
 * until two steps give a pace.
 */
export function estimateEta(state: RunProgress, totalSteps: number): number | null {
  const { firstStep, firstStepTime, lastStepTime, step } = state;
  if (firstStep === null || firstStepTime === null || lastStepTime === null || step <= firstStep) return null;
  const perStep = (lastStepTime - firstStepTime) / 1000 / (step - firstStep);
  return Math.max(0, totalSteps - step) * perStep;
}

/** 75 → '1m15s', 3725 → '1h02m', 4.2 → '4s'. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** The progress line for one run (prefixed with the run's name when several runs share the pool). */
export function formatProgress(state: RunProgress, plan: ProgressPlan, opts: { showRun?: boolean } = {}): string {
  const parts = [
    `epoch ${state.epoch}/${plan.epochs}`,
    `step ${state.step}/${plan.totalSteps}`,
    `loss ${state.loss === null ? '–' : state.loss.toFixed(4)}`,
    `val acc ${state.valAccuracy === null ? '–' : state.valAccuracy.toFixed(4)}`,
  ];
  if (state.testAccuracy !== null) parts.push(`test acc ${state.testAccuracy.toFixed(4)}`);
  else {
    const eta = estimateEta(state, plan.totalSteps);
    parts.push(`ETA ${eta === null ? '–' : formatDuration(eta)}`);
  }
  return `${opts.showRun ? `[${state.run}] ` : ''}${parts.join('  ')}`;
}

/** Where the line is drawn: a writable TTY stream (process.stdout). */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

export interface TerminalProgress {
  /** Feed a metric line (RunDirectory's onMetric). */
  update: (line: MetricLine) => void;
  /** Leaves the last line on screen and moves to the next line, before the closing prints. */
  finish: () => void;
}

/**
 * A progress line redrawn in place on `stream`, or undefined when `stream` is not a TTY (pipes,
 * files, CI: nothing extra goes to stdout). The cursor is left at the start of the line, so
 * anything else written to the terminal (a log line on stderr) overwrites the line and the next
 * redraw continues below it. Step lines redraw at most every `minIntervalMs`; evaluations always.
 */
export function terminalProgress(plan: ProgressPlan, stream: ProgressStream = process.stdout, opts: { minIntervalMs?: number; now?: () => number } = {}): TerminalProgress | undefined {
  if (!stream.isTTY) return undefined;
  const now = opts.now ?? Date.now;
  const minInterval = opts.minIntervalMs ?? 100;
  const runs = new Map<string, RunProgress>();
  let lastDraw = -Infinity;
  let latest: RunProgress | undefined;
  let drawn = false;
  const draw = () => {
    if (!latest) return;
    let text = formatProgress(latest, plan, { showRun: runs.size > 1 });
    // A line wider than the terminal would wrap, and `\r` would then redraw only its last row.
    if (stream.columns && text.length >= stream.columns) text = text.slice(0, stream.columns - 1);
    stream.write(`\r\x1b[2K${text}\r`);
    drawn = true;
    lastDraw = now();
  };
  return {
    update(line) {
      const run = typeof line.run === 'string' ? line.run : '';
      latest = foldMetric(runs.get(run) ?? initialProgress(run), line);
      runs.set(run, latest);
      if (line.type !== 'step' || now() - lastDraw >= minInterval) draw();
    },
    finish() {
      draw();
      if (drawn) stream.write('\n');
      drawn = false;
    },
  };
}
