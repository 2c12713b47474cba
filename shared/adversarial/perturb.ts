/**
 * Adversarial examples from input gradients: FGSM and PGD under an L∞ budget.
 *
 *   FGSM  x_adv = clamp_range(x + ε·sign(∇ₓL(x)))
 *   PGD   x⁰ = x, or clamp_range(x + U(−ε, ε)) with a random start; then `steps` times
 *         xᵗ⁺¹ = clamp_range(clip_[x−ε, x+ε](xᵗ + α·sign(∇ₓL(xᵗ))))
 *
 * The loss gradient comes from the caller (InputGradient): the attack graph's grad:<input> in
 * evaluation (shared/engine/attack-runner.ts), the training graph's in adversarial training.
 * Arithmetic is float32, element by element, in a fixed order, as torch computes
 * `x + eps * x.grad.sign()` on float32 tensors (ε and α rounded to float32 first, sign(0) = 0,
 * a NaN gradient gives a NaN input): the same inputs give the same bits on every machine.
 *
 * The random start of sample k depends only on (seed, indices[k], element): integer hashing in
 * the manner of the dropout masks (shared/engine/dropout-masks.ts), so a sample gets the same
 * start whatever batch, position or worker it is attacked in.
 */
import { maskSeed } from '../engine/dropout-masks.js';
import { checkAttackSpec, type AttackSpec } from './attack-spec.js';

/** d(loss summed over the batch)/dx for the batch x (labels are fixed by the caller): writes into grad (same length as x). */
export type InputGradient = (x: Float32Array, grad: Float32Array) => Promise<void>;

/**
 * Scratch a caller keeps between batches (no per-batch allocation once sized): `grad` holds the
 * input gradient; `start` a copy of the clean batch, used only when `out` shares memory with it.
 */
export interface PerturbScratch {
  grad?: Float32Array;
  start?: Float32Array;
}

/** Keeps the random-start stream apart from the dropout masks' ("ADVS"). */
const RANDOM_START_STREAM = 0x41445653;
const RESOLUTION = 1 << 24;

/**
 * Writes the adversarial batch into `out` (count × width, count = clean.length / width; `out` may
 * be `clean` itself). `indices[k]` is sample k's index in its dataset (random start only).
 * `gradient` is called with `clean` itself whenever the point is the clean batch (FGSM, and PGD's
 * first step without a random start), so a caller that already has that gradient can reuse it.
 */
export async function perturb(spec: AttackSpec, clean: Float32Array, width: number, indices: ArrayLike<number>, seed: number, gradient: InputGradient, out: Float32Array, scratch: PerturbScratch = {}): Promise<void> {
  checkAttackSpec(spec);
  const n = clean.length;
  if (!(Number.isInteger(width) && width > 0) || n % width !== 0) throw new Error(`perturb: the batch holds ${n} values, not a whole number of samples of width ${width}`);
  if (out.length !== n) throw new Error(`perturb: out holds ${out.length} values, the batch ${n}`);
  const count = n / width;
  if (spec.method === 'pgd' && spec.randomStart && indices.length !== count) throw new Error(`perturb: ${indices.length} sample indices for a batch of ${count}`);
  const grad = sized(scratch, 'grad', n);
  const eps = Math.fround(spec.epsilon);
  const [lo, hi] = spec.range ?? [-Infinity, Infinity];
  const rlo = Math.fround(lo);
  const rhi = Math.fround(hi);

  if (spec.method === 'fgsm') {
    await gradient(clean, grad);
    for (let i = 0; i < n; i++) out[i] = clampTo(Math.fround(clean[i]! + eps * Math.sign(grad[i]!)), rlo, rhi);
    return;
  }

  // PGD. The ball is around the clean batch: keep a copy when `out` overwrites it.
  const center = sharesMemory(out, clean) ? copyInto(sized(scratch, 'start', n), clean) : clean;
  const alpha = Math.fround(spec.alpha);
  let first = true;
  if (spec.randomStart) {
    for (let k = 0; k < count; k++) randomStart(seed, indices[k]!, eps, center, k * width, width, out);
    for (let i = 0; i < n; i++) out[i] = clampTo(out[i]!, rlo, rhi);
    first = false;
  } else if (out !== center) out.set(center);
  for (let t = 0; t < spec.steps; t++) {
    // The first step of a start at the clean point asks for the clean batch's gradient as such.
    await gradient(first && center === clean ? clean : out, grad);
    first = false;
    for (let i = 0; i < n; i++) {
      const c = center[i]!;
      const stepped = Math.fround(out[i]! + alpha * Math.sign(grad[i]!));
      out[i] = clampTo(clampTo(stepped, Math.fround(c - eps), Math.fround(c + eps)), rlo, rhi);
    }
  }
}

/**
 * Sample `index`'s random start: out[at + j] = float32(center[at + j] + ε·u_j), u_j uniform on
 * [−1, 1) in steps of 2^−23, from murmur3's finalizer over a Weyl sequence seeded with
 * maskSeed(stream, seed, index). Depends on (seed, index, j) only.
 */
export function randomStart(seed: number, index: number, epsilon: number, center: Float32Array, at: number, width: number, out: Float32Array): void {
  if (!Number.isInteger(index) || index < 0) throw new Error(`perturb: sample index ${index} is not a non-negative integer`);
  const eps = Math.fround(epsilon);
  const base = maskSeed(RANDOM_START_STREAM, seed, index);
  for (let j = 0; j < width; j++) {
    const x = (base + Math.imul(j + 1, 0x9e3779b9)) | 0;
    let h = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h ^= h >>> 16;
    // (2k − 2^24)/2^24 for k in [0, 2^24): exact in float32.
    const u = (2 * (h >>> 8) - RESOLUTION) / RESOLUTION;
    out[at + j] = Math.fround(center[at + j]! + Math.fround(eps * u));
  }
}

/** min(max(v, lo), hi), NaN staying NaN. */
function clampTo(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

function sized(scratch: PerturbScratch, key: 'grad' | 'start', n: number): Float32Array {
  const have = scratch[key];
  if (!have || have.length < n) return (scratch[key] = new Float32Array(n));
  return have.length === n ? have : have.subarray(0, n);
}

function copyInto(to: Float32Array, from: Float32Array): Float32Array {
  to.set(from);
  return to;
}

function sharesMemory(a: Float32Array, b: Float32Array): boolean {
  if (a.buffer !== b.buffer) return false;
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}
