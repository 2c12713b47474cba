/**
 * Weight initialisation, as in the lecture (shared/seed/lecture-deep-learning-training-es.md,
 * "Inicialización de Xavier y He"):
 *
 *   Xavier/Glorot: var(w) = 2 / (fan_in + fan_out)      He: var(w) = 2 / fan_in
 *
 * drawn from a normal N(0, var) or a uniform U(−a, a) with a = √(3·var) (the variance of
 * U(−a, a) is a²/3). Biases start at zero.
 *
 * Every parameter draws from its own stream, derived from the model seed and the parameter's
 * name, so adding or removing a layer elsewhere never changes the values of the others.
 */
import { createHash } from 'node:crypto';
import { Rng } from '../random.js';
import type { InitScheme } from './spec.js';

/** Connections into and out of one unit of a layer. */
export interface Fans {
  fanIn: number;
  fanOut: number;
}

/** Dense layer with `inFeatures` inputs and `outFeatures` outputs. */
export function denseFans(inFeatures: number, outFeatures: number): Fans {
  return { fanIn: inFeatures, fanOut: outFeatures };
}

/**
 * Conv layer: each output sees in_channels/groups × kernel area inputs; each input feeds
 * out_channels × kernel area outputs.
 */
export function convFans(inChannels: number, outChannels: number, groups: number, kernel: readonly number[]): Fans {
  const area = kernel.reduce((a, k) => a * k, 1);
  return { fanIn: (inChannels / groups) * area, fanOut: outChannels * area };
}

/** The variance the scheme prescribes for these fans. */
export function initVariance(scheme: InitScheme, fans: Fans): number {
  switch (scheme) {
    case 'xavier_normal':
    case 'xavier_uniform':
      return 2 / (fans.fanIn + fans.fanOut);
    case 'he_normal':
    case 'he_uniform':
      return 2 / fans.fanIn;
  }
}

/** He before a ReLU-family activation (it halves the variance), Xavier otherwise. */
export function defaultScheme(followedByRelu: boolean): InitScheme {
  return followedByRelu ? 'he_normal' : 'xavier_normal';
}

/**
 * The random stream of one parameter: its 128-bit xoroshiro state is the first 16 bytes of
 * SHA-256(seed, name). Hashing (rather than seeding with seed + index) keeps streams of nearby
 * seeds and similar names unrelated, and makes a stream depend on nothing but its own name.
 */
export function paramStream(seed: number, paramName: string): Rng {
  const digest = createHash('sha256').update(`gradfleet-init\0${seed}\0${paramName}`).digest();
  const state: number[] = [digest.readInt32LE(0), digest.readInt32LE(4), digest.readInt32LE(8), digest.readInt32LE(12)];
  // xoroshiro's all-zero state is a fixed point; 2^-128 unlikely, but cheap to rule out.
  if (!state.some((w) => w !== 0)) state[0] = 1;
  return Rng.fromState(state);
}

/** `count` values of the scheme's distribution for these fans. */
export function drawWeights(scheme: InitScheme, count: number, fans: Fans, rng: Rng): Float32Array {
  const variance = initVariance(scheme, fans);
  const out = new Float32Array(count);
  if (scheme === 'xavier_uniform' || scheme === 'he_uniform') {
    const limit = Math.sqrt(3 * variance);
    for (let i = 0; i < count; i++) out[i] = (2 * rng.uniform() - 1) * limit;
  } else {
    const std = Math.sqrt(variance);
    for (let i = 0; i < count; i++) out[i] = rng.normal() * std;
  }
  return out;
}

/** A constant-filled parameter (biases, batch-norm scale/shift and running statistics). */
export function constantValues(count: number, value: number): Float32Array {
  return new Float32Array(count).fill(value);
}
