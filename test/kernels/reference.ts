/**
 * The step kernels (shared/kernels/step-kernels.wat) as plain scalar JavaScript: every float32
 * operation is a float64 operation rounded with Math.fround, which gives the correctly rounded
 * float32 result for +, −, ×, ÷ and √ of float32 operands. The tests hold the SIMD kernels to
 * these bits; this file is their specification, not production code.
 */
const f = Math.fround;

export function add(a: Float32Array, b: Float32Array): Float32Array {
  return a.map((x, i) => f(x + b[i]!));
}

/** (l0 + l1) + (l2 + l3), lane k holding Σ x_i² over i ≡ k (mod 4), each square exact in float64. */
export function sumsq(x: Float32Array): number {
  const lanes = [0, 0, 0, 0];
  for (let i = 0; i < x.length; i++) lanes[i % 4]! += x[i]! * x[i]!;
  return lanes[0]! + lanes[1]! + (lanes[2]! + lanes[3]!);
}

/** clamp(g·s, ±limit): with s = 1/divisor the step's mean, value-clipped. */
export function scaleClamp(g: Float32Array, s: number, limit: number): Float32Array {
  const hi = f(limit);
  return g.map((x) => Math.max(Math.min(f(x * f(s)), hi), -hi));
}

const sign = (w: number) => (w > 0 ? 1 : w < 0 ? -1 : 0);

/** The gradient an optimizer applies: ∇·s, then + l2·w and + l1·sign(w) where those are not 0. */
function applied(g: number, w: number, s: number, l2: number, l1: number): number {
  let x = f(g * s);
  if (l2 !== 0) x = f(x + f(l2 * w));
  if (l1 !== 0) x = f(x + f(l1 * sign(w)));
  return x;
}

export interface Penalty {
  s: number;
  l2: number;
  l1: number;
}

export function sgd(w: Float32Array, g: Float32Array, lr: number, p: Penalty): void {
  for (let i = 0; i < w.length; i++) w[i] = f(w[i]! - f(lr * applied(g[i]!, w[i]!, p.s, p.l2, p.l1)));
}

export function momentum(w: Float32Array, g: Float32Array, v: Float32Array, lr: number, mu: number, p: Penalty, nesterov: boolean): void {
  for (let i = 0; i < w.length; i++) {
    const x = applied(g[i]!, w[i]!, p.s, p.l2, p.l1);
    v[i] = f(f(mu * v[i]!) + x);
    w[i] = f(w[i]! - f(lr * (nesterov ? f(x + f(mu * v[i]!)) : v[i]!)));
  }
}

export interface AdamConstants {
  b1: number;
  c1: number;
  b2: number;
  c2: number;
  ss: number;
  isb2: number;
  eps: number;
  keep: number;
}

export function adam(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, k: AdamConstants, p: Penalty): void {
  for (let i = 0; i < w.length; i++) {
    const x = applied(g[i]!, w[i]!, p.s, p.l2, p.l1);
    m[i] = f(f(k.b1 * m[i]!) + f(k.c1 * x));
    v[i] = f(f(k.b2 * v[i]!) + f(f(k.c2 * x) * x));
    w[i] = f(f(w[i]! * k.keep) - f(f(k.ss * m[i]!) / f(f(f(Math.sqrt(v[i]!)) * k.isb2) + k.eps)));
  }
}
