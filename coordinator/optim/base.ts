/**
 * Bookkeeping shared by every optimizer: shape checks, per-param slots (velocity, moments), the
 * step count, and state save/load. Subclasses only write their update loop.
 *
 * Arithmetic convention (all optimizers): params, gradients and slots are float32; each element's
 * update is computed in float64 from those float32 values and rounded once when stored. Loops run
 * params in spec order and elements 0..n−1. There is no hidden float64 state, so an optimizer
 * restored from saveState() continues bit-identically, and a run repeats bit-identically.
 */
import { OptimizerConfigError, OptimizerStateError, ParamShapeError } from './errors.js';
import type { Optimizer, OptimizerKind, OptimizerState, ParamSpec } from './types.js';

export abstract class SlotOptimizer implements Optimizer {
  /** Number of updates applied so far. */
  protected stepCount = 0;
  protected readonly slots: Record<string, Float32Array[]> = {};

  constructor(
    readonly kind: OptimizerKind,
    protected readonly specs: readonly ParamSpec[],
    slotNames: readonly string[],
  ) {
    for (const s of specs) {
      if (!Number.isInteger(s.size) || s.size < 0) throw new ParamShapeError(`param '${s.name}' has size ${s.size}, expected an integer ≥ 0`);
    }
    for (const slot of slotNames) this.slots[slot] = specs.map((s) => new Float32Array(s.size));
  }

  /** Updates applied so far (1 after the first update). */
  get step(): number {
    return this.stepCount;
  }

  update(params: Float32Array[], grads: Float32Array[], lr: number): void {
    checkUpdateArgs(this.specs, params, grads, lr);
    this.stepCount += 1;
    this.apply(params, grads, lr, this.stepCount);
  }

  /** The update loop. `step` counts from 1 (the update being applied now). */
  protected abstract apply(params: Float32Array[], grads: Float32Array[], lr: number, step: number): void;

  saveState(): OptimizerState {
    const slots: Record<string, Float32Array[]> = {};
    for (const [name, arrays] of Object.entries(this.slots)) slots[name] = arrays.map((a) => a.slice());
    return { kind: this.kind, step: this.stepCount, slots };
  }

  loadState(state: OptimizerState): void {
    if (state.kind !== this.kind) throw new OptimizerStateError(`state is for a '${state.kind}' optimizer, this one is '${this.kind}'`);
    if (!Number.isInteger(state.step) || state.step < 0) throw new OptimizerStateError(`state step must be an integer ≥ 0, got ${state.step}`);
    const want = Object.keys(this.slots).sort();
    const got = Object.keys(state.slots).sort();
    if (want.join(',') !== got.join(',')) {
      throw new OptimizerStateError(`'${this.kind}' state needs slots [${want.join(', ')}], got [${got.join(', ')}]`);
    }
    // Check everything before copying anything, so a rejected state leaves this optimizer untouched.
    for (const name of want) {
      const arrays = state.slots[name]!;
      if (arrays.length !== this.specs.length) {
        throw new OptimizerStateError(`slot '${name}' holds ${arrays.length} arrays, the optimizer has ${this.specs.length} params`);
      }
      this.specs.forEach((s, i) => {
        if (arrays[i]!.length !== s.size) {
          throw new OptimizerStateError(`slot '${name}' of param '${s.name}' holds ${arrays[i]!.length} values, expected ${s.size}`);
        }
      });
    }
    for (const name of want) this.slots[name]!.forEach((dst, i) => dst.set(state.slots[name]![i]!));
    this.stepCount = state.step;
  }
}

function checkUpdateArgs(specs: readonly ParamSpec[], params: Float32Array[], grads: Float32Array[], lr: number): void {
  if (params.length !== specs.length) throw new ParamShapeError(`update got ${params.length} params, the optimizer has ${specs.length}`);
  if (grads.length !== specs.length) throw new ParamShapeError(`update got ${grads.length} gradients, the optimizer has ${specs.length} params`);
  specs.forEach((s, i) => {
    if (params[i]!.length !== s.size) throw new ParamShapeError(`param '${s.name}' has ${params[i]!.length} values, its spec says ${s.size}`);
    if (grads[i]!.length !== s.size) throw new ParamShapeError(`gradient of '${s.name}' has ${grads[i]!.length} values, its spec says ${s.size}`);
  });
  if (!Number.isFinite(lr) || lr < 0) throw new OptimizerConfigError('lr', lr, 'must be finite and ≥ 0');
}
