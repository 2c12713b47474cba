/**
 * Hashed weights (HashedNets, Chen et al. 2015): a dense layer whose [in, out] weight matrix is
 * not stored. Every position x = i·out + j of W maps to one of `buckets` shared values:
 *
 *   W[i, j] = ξ(x) · table[h(x)]
 *   h(x) = ((a·x + b) mod p) mod buckets          p = 2³¹ − 1
 *   ξ(x) = 1 − 2·(((a'·x + b') mod p) mod 2)      ±1, a second, independent hash
 *
 * with 1 ≤ a, a' < p and 0 ≤ b, b' < p drawn from the layer's `hashed.seed`. The graph computes
 * h and ξ itself from the positions (Range → Mul/Add/Mod in int64: a·x + b < 2⁶² since a, x < 2³¹,
 * so nothing overflows), so the model file stores only the table: its size scales with the
 * buckets, not with in×out. The table's gradient is the Gather rule's scatter-add: each bucket
 * collects ξ·dL/dW over the positions that map to it.
 *
 * A bucket's value has the variance the layer's init scheme asks for (He or Xavier for the
 * layer's fan_in and fan_out), and ξ·table[h] is then distributed as the table is: W has that
 * variance too.
 */
import { createHash } from 'node:crypto';
import type { GraphBuilder } from '../onnx/builder.js';
import { DT } from '../onnx/tensor.js';

/** The Mersenne prime 2³¹ − 1, the modulus of both hashes. */
export const HASH_PRIME = 2147483647;

/** One universal hash x ↦ (a·x + b) mod p. */
export interface HashCoefficients {
  a: number;
  b: number;
}

export interface HashedWeightHashes {
  /** The bucket hash h (then taken mod buckets). */
  index: HashCoefficients;
  /** The sign hash ξ (then taken mod 2). */
  sign: HashCoefficients;
}

/** The coefficients of a layer's two hashes: the first 16 bytes of SHA-256 of the seed, each 4 reduced below p. */
export function hashCoefficients(seed: number): HashedWeightHashes {
  const d = createHash('sha256').update(`gradfleet-hashed-weights\0${seed}`).digest();
  const u = (k: number) => d.readUInt32LE(4 * k);
  const a = (k: number) => 1 + (u(k) % (HASH_PRIME - 1));
  const b = (k: number) => u(k) % HASH_PRIME;
  return { index: { a: a(0), b: b(1) }, sign: { a: a(2), b: b(3) } };
}

/** (a·x + b) mod p, exactly (BigInt: a·x needs 62 bits). */
export function universalHash(c: HashCoefficients, x: number): number {
  return Number((BigInt(c.a) * BigInt(x) + BigInt(c.b)) % BigInt(HASH_PRIME));
}

/** Position x's bucket and sign, computed in TypeScript exactly as the graph computes them. */
export function hashPosition(h: HashedWeightHashes, buckets: number, x: number): { bucket: number; sign: 1 | -1 } {
  return { bucket: universalHash(h.index, x) % buckets, sign: universalHash(h.sign, x) % 2 === 0 ? 1 : -1 };
}

/** W [in, out] (row-major) from a table, as the graph materialises it. */
export function materializeHashedWeight(table: Float32Array, inFeatures: number, outFeatures: number, seed: number): Float32Array {
  const h = hashCoefficients(seed);
  const w = new Float32Array(inFeatures * outFeatures);
  for (let x = 0; x < w.length; x++) {
    const { bucket, sign } = hashPosition(h, table.length, x);
    w[x] = sign * table[bucket]!;
  }
  return w;
}

/** The largest in×out a hashed layer may have: every position x must stay below p (and 2³¹). */
export const MAX_HASHED_POSITIONS = HASH_PRIME;

/**
 * Emits the ops that materialise W [in, out] from the table initializer `table` and returns the
 * name of W: positions Range(0, in·out) viewed as [in, out], then Gather(table, h)·ξ. `int`
 * gives an int64 constant (a scalar for a number, 1-D for a list) as a Constant node, as
 * build.ts makes every constant that is not a parameter.
 */
export function emitHashedWeight(b: GraphBuilder, int: (v: number | readonly number[], hint: string) => string, o: { table: string; buckets: number; inFeatures: number; outFeatures: number; seed: number; hint: string }): string {
  const { table, buckets, inFeatures, outFeatures, hint } = o;
  const h = hashCoefficients(o.seed);
  const count = inFeatures * outFeatures;
  const range = b.op('Range', [int(0, `${hint}_zero`), int(count, `${hint}_count`), int(1, `${hint}_one`)], {}, `${hint}_positions_flat`);
  const positions = b.op('Reshape', [range, int([inFeatures, outFeatures], `${hint}_shape`)], {}, `${hint}_positions`);
  const prime = int(HASH_PRIME, 'hash_prime');
  const hash = (c: HashCoefficients, modulus: number, name: string): string => {
    const ax = b.op('Mul', [positions, int(c.a, `${hint}_${name}_a`)], {}, `${hint}_${name}_ax`);
    const axb = b.op('Add', [ax, int(c.b, `${hint}_${name}_b`)], {}, `${hint}_${name}_axb`);
    const modP = b.op('Mod', [axb, prime], {}, `${hint}_${name}_mod_p`);
    return b.op('Mod', [modP, int(modulus, `${hint}_${name}_modulus`)], {}, `${hint}_${name}`);
  };
  const bucket = hash(h.index, buckets, 'bucket');
  const parity = hash(h.sign, 2, 'sign_bit');
  // ξ = 1 − 2·bit, as float
  const signInt = b.op('Sub', [int(1, `${hint}_one`), b.op('Mul', [parity, int(2, `${hint}_two`)], {}, `${hint}_sign_bit_2`)], {}, `${hint}_sign_int`);
  const sign = b.op('Cast', [signInt], { to: DT.FLOAT }, `${hint}_sign`);
  const gathered = b.op('Gather', [table, bucket], { axis: 0 }, `${hint}_gathered`);
  return b.op('Mul', [gathered, sign], {}, `${hint}_weight`);
}
