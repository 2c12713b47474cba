/**
 * Human-readable progress of the single-process trainer: a few step lines per epoch, a line per
 * epoch with validation figures, and the test result.
 */
import type { EvalMetrics, LocalTrainEvent } from './events.js';

export interface ProgressPrinterOptions {
  /** Step lines per epoch (evenly spaced; the last step of an epoch always prints). Default 4. */
  stepLinesPerEpoch?: number;
}

/** An onEvent sink that writes one line per reported event through `write`. */
export function progressPrinter(write: (line: string) => void, opts: ProgressPrinterOptions = {}): (e: LocalTrainEvent) => void {
  const perEpoch = Math.max(1, opts.stepLinesPerEpoch ?? 4);
  let epochs = 0;
  return (e) => {
    switch (e.type) {
      case 'start':
        epochs = e.epochs;
        write(
          `training ${e.model} (${e.values.toLocaleString('en-US')} parameters in ${e.params} tensors) on ${e.train} samples ` +
            `(validation ${e.validation}, test ${e.test}), ${e.epochs} epoch(s) × ${e.stepsPerEpoch} steps of ${e.batch}, ${e.device}`,
        );
        return;
      case 'step': {
        const every = Math.ceil(e.stepsInEpoch / perEpoch);
        if (e.stepInEpoch % every !== 0 && e.stepInEpoch !== e.stepsInEpoch && !e.skipped) return;
        const norm = e.gradNorm === null ? 'skipped (non-finite gradient)' : `grad norm ${e.gradNorm.toFixed(3)}`;
        write(`epoch ${e.epoch}/${epochs} step ${e.stepInEpoch}/${e.stepsInEpoch}  loss ${e.loss.toFixed(4)}  lr ${e.lr.toPrecision(3)}  ${norm}`);
        return;
      }
      case 'epoch': {
        const r = e.record;
        const acc = r.trainAccuracy === null ? '' : `  train acc ${r.trainAccuracy.toFixed(4)}`;
        const val = r.validation ? `  val loss ${r.validation.loss.toFixed(4)}${accuracyText(r.validation, '  val acc')}` : '';
        write(`epoch ${r.epoch}/${epochs} done: train loss ${r.trainLoss.toFixed(4)}${acc}${val}  (${r.seconds.toFixed(1)} s, ${Math.round(r.samplesPerSecond)} samples/s)`);
        return;
      }
      case 'warning':
        write(`WARNING: ${e.message}`);
        return;
      case 'test':
        write(`test: loss ${e.metrics.loss.toFixed(4)}${accuracyText(e.metrics, '  accuracy')} on ${e.metrics.count} samples`);
        return;
    }
  };
}

function accuracyText(m: EvalMetrics, label: string): string {
  return m.accuracy === null ? '' : `${label} ${m.accuracy.toFixed(4)}`;
}
