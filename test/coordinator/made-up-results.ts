/**
 * Driving TrainingRuns without workers or sessions: made-up results that depend on the
 * parameters and the samples (so different parameters give different steps, and the same ones
 * the same steps), fed phase by phase. Shared by the resume and bagging tests.
 */
import type { TrainingRun } from '../../coordinator/run/training-run.js';
import type { TaskResult, TaskSpec } from '../../coordinator/run/task.js';

export const sumOf = (xs: Iterable<number>) => {
  let s = 0;
  for (const x of xs) s += x;
  return s;
};

/** A train micro-batch's result: gradients that depend on the parameters and the samples. */
export function trainResult(t: TaskSpec, params: Float32Array[], buffers: Float32Array[]): TaskResult {
  const seed = sumOf(t.indices);
  const n = t.indices.length;
  const grads = params.map((p, k) => p.map((v, i) => n * (0.1 * v + 0.01 * Math.sin(seed + 3 * i + k))));
  const loss = n * (1 + 0.1 * Math.cos(seed)) + sumOf(params.map((p) => sumOf(p.map((v) => v * v))));
  return { count: n, loss, headLosses: [loss], correct: undefined, grads, state: buffers.map((b) => Float32Array.from(b)), workerId: 'w', computeMs: 0 };
}

/** An evaluation shard's result: a loss that moves with the parameters, so every evaluation differs. */
export function evalResult(t: TaskSpec, params: Float32Array[]): TaskResult {
  const n = t.indices.length;
  const loss = n * (sumOf(params.map((p) => sumOf(p.map((v) => v * v)))) + 0.01 * (sumOf(t.indices) % 5));
  return { count: n, loss, headLosses: [loss], correct: t.indices.filter((i) => i % 3 === 0).length, workerId: 'w', computeMs: 0 };
}

/**
 * Completes `run`'s phases until it has none left or `until(next tasks)` says stop; returns the
 * tasks not done. `beforePhase` runs before each phase (e.g. to move a fake clock).
 */
export function drive(run: TrainingRun, tasks: TaskSpec[], until: (next: TaskSpec[]) => boolean = () => false, beforePhase: () => void = () => {}): TaskSpec[] {
  while (tasks.length > 0 && !until(tasks)) {
    beforePhase();
    const { params, buffers } = run.currentParams();
    tasks = run.completePhase(
      tasks[0]!.phase,
      tasks.map((t) => (t.kind === 'train' ? trainResult(t, params, buffers) : evalResult(t, params))),
    );
  }
  return tasks;
}
