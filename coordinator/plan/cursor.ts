/**
 * Where training stands: the next step to run, as (epoch, step within the epoch). A plain value
 * that goes into checkpoints as JSON; the epoch plan is recomputed from it, never stored.
 */
import { PlanError } from './errors.js';

export interface PlanCursor {
  readonly epoch: number;
  /** Index of the next step within the epoch, 0..stepsPerEpoch−1. */
  readonly step: number;
}

export const START_CURSOR: PlanCursor = Object.freeze({ epoch: 0, step: 0 });

/** The cursor after running the step `cursor` points at. */
export function advanceCursor(cursor: PlanCursor, stepsPerEpoch: number): PlanCursor {
  checkCursor(cursor, stepsPerEpoch);
  return cursor.step + 1 < stepsPerEpoch ? { epoch: cursor.epoch, step: cursor.step + 1 } : { epoch: cursor.epoch + 1, step: 0 };
}

/** Steps run before `cursor` (the optimizer's step count, the schedule's step). */
export function globalStepOf(cursor: PlanCursor, stepsPerEpoch: number): number {
  checkCursor(cursor, stepsPerEpoch);
  return cursor.epoch * stepsPerEpoch + cursor.step;
}

/** The cursor after `globalStep` steps. */
export function cursorAt(globalStep: number, stepsPerEpoch: number): PlanCursor {
  if (!Number.isInteger(globalStep) || globalStep < 0) throw new PlanError('globalStep', globalStep, 'must be an integer ≥ 0');
  checkStepsPerEpoch(stepsPerEpoch);
  return { epoch: Math.floor(globalStep / stepsPerEpoch), step: globalStep % stepsPerEpoch };
}

/** A cursor read back from a checkpoint, checked field by field. */
export function restoreCursor(saved: unknown, stepsPerEpoch: number): PlanCursor {
  if (typeof saved !== 'object' || saved === null) throw new PlanError('cursor', saved, 'must be an object { epoch, step }');
  const { epoch, step } = saved as Record<string, unknown>;
  const cursor = { epoch: epoch as number, step: step as number };
  checkCursor(cursor, stepsPerEpoch);
  return cursor;
}

function checkStepsPerEpoch(stepsPerEpoch: number): void {
  if (!Number.isInteger(stepsPerEpoch) || stepsPerEpoch < 1) throw new PlanError('stepsPerEpoch', stepsPerEpoch, 'must be an integer ≥ 1');
}

function checkCursor(c: PlanCursor, stepsPerEpoch: number): void {
  checkStepsPerEpoch(stepsPerEpoch);
  if (!Number.isInteger(c.epoch) || c.epoch < 0) throw new PlanError('cursor.epoch', c.epoch, 'must be an integer ≥ 0');
  if (!Number.isInteger(c.step) || c.step < 0 || c.step >= stepsPerEpoch) {
    throw new PlanError('cursor.step', c.step, `must be an integer in [0, ${stepsPerEpoch - 1}]`);
  }
}
