/**
 * Bookkeeping shared by every optimizer: shape checks, per-param slots (velocity, moments) in the
 * arena, the step count, state save/load, and the decay segments. Subclasses only call their
 * kernel.
 *
 * Arithmetic convention (all optimizers, shared/kernels/step-kernels.wat): params, gradients and
 * slots are float32 and every operation rounds to float32, as torch's float32 kernels do; the
 * order of operations is fixed and nothing is fused, so the same inputs give the same bits on
 * every machine. Scalar coefficients (bias corrections, 1 − β, the decay factor) are computed in
 * float64 (integer powers by multiplication, pow.ts) and rounded to float32 once. There is no
 * hidden state, so an optimizer restored from saveState() continues bit-identically.
 */
import type { Arena, FlatVector } from '../../shared/kernels/index.js';
import { paddedLength, sameLayout } from '../../shared/kernels/index.js';
import { OptimizerConfigError, OptimizerStateError, ParamShapeError } from './errors.js';
import type { Optimizer, OptimizerKind, OptimizerState, ParamSpec } from './types.js';

/** Consecutive params with the same decay flag: one kernel call each. */
export interface Segment {
  /** Byte offset of the segment in a vector of the params' layout. */
  byteOffset: number;
  /** Values in the segment, padding included (a multiple of 4). */
  count: number;
  decay: boolean;
}

export abstract class SlotOptimizer implements Optimizer {
  /** Number of updates applied so far. */
  protected stepCount = 0;
  protected readonly slots: Record<string, FlatVector> = {};
  protected readonly segments: Segment[];
  protected readonly sizes: number[];

  constructor(
    readonly kind: OptimizerKind,
    protected readonly specs: readonly ParamSpec[],
    slotNames: readonly string[],
    protected readonly arena: Arena,
  ) {
    for (const s of specs) {
      if (!Number.isInteger(s.size) || s.size < 0) throw new ParamShapeError(`param '${s.name}' has size ${s.size}, expected an integer ≥ 0`);
    }
    this.sizes = specs.map((s) => s.size);
    for (const slot of slotNames) this.slots[slot] = arena.vector(this.sizes);
    this.segments = decaySegments(specs);
  }

  get step(): number {
    return this.stepCount;
  }

  update(params: FlatVector, grads: FlatVector, lr: number, gradScale = 1): void {
    this.check(params, grads, lr, gradScale);
    this.stepCount += 1;
    for (const seg of this.segments) this.applySegment(params.ptr + seg.byteOffset, grads.ptr + seg.byteOffset, seg, lr, Math.fround(gradScale), this.stepCount);
  }

  /** One kernel call over a segment: `w`, `g` are byte offsets; slots are at the same offset in their vectors. */
  protected abstract applySegment(w: number, g: number, seg: Segment, lr: number, scale: number, step: number): void;

  /** Byte offset of slot `name` at the segment. */
  protected slot(name: string, seg: Segment): number {
    return this.slots[name]!.ptr + seg.byteOffset;
  }

  saveState(): OptimizerState {
    const slots: Record<string, Float32Array[]> = {};
    for (const [name, v] of Object.entries(this.slots)) slots[name] = v.parts.map((a) => a.slice());
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
    for (const name of want) this.slots[name]!.setParts(state.slots[name]!);
    this.stepCount = state.step;
  }

  private check(params: FlatVector, grads: FlatVector, lr: number, gradScale: number): void {
    if (params.arena !== this.arena || grads.arena !== this.arena) throw new ParamShapeError('params and gradients must be vectors of the optimizer\'s arena');
    if (!sameLayout(params.sizes, this.sizes)) throw new ParamShapeError(`params hold tensors of [${params.sizes.join(', ')}] values, the optimizer's params [${this.sizes.join(', ')}]`);
    if (!sameLayout(grads.sizes.slice(0, this.sizes.length), this.sizes)) {
      throw new ParamShapeError(`gradients hold tensors of [${grads.sizes.join(', ')}] values; the optimizer's params need [${this.sizes.join(', ')}] first`);
    }
    if (!Number.isFinite(lr) || lr < 0) throw new OptimizerConfigError('lr', lr, 'must be finite and ≥ 0');
    if (!(Number.isFinite(gradScale) && gradScale > 0)) throw new OptimizerConfigError('gradScale', gradScale, 'must be finite and > 0');
  }
}

/** Params grouped into runs of the same decay flag, at their offsets in the padded layout. */
function decaySegments(specs: readonly ParamSpec[]): Segment[] {
  const out: Segment[] = [];
  let offset = 0;
  for (const s of specs) {
    const count = paddedLength(s.size);
    const last = out.at(-1);
    if (last && last.decay === s.decay) last.count += count;
    else out.push({ byteOffset: offset * 4, count, decay: s.decay });
    offset += count;
  }
  return out.filter((seg) => seg.count > 0);
}
