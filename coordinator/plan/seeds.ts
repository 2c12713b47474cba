/**
 * Seeds for the coordinator's random streams, derived from the job seed with 32-bit integer
 * operations only (Math.imul, xor, shifts), so every engine derives the same seed for the same
 * (job seed, stream, index). Each stream has its own tag, so epoch e's permutation and bagging
 * member e's bootstrap sample never share a seed.
 */
import { PlanError } from './errors.js';

/** Tags of the derived streams. */
export const SeedStream = {
  epoch: 0x45504f43, // 'EPOC'
  bootstrap: 0x424f4f54, // 'BOOT'
  augment: 0x4155474d, // 'AUGM': the augmentations of an epoch's samples
  attack: 0x4154434b, // 'ATCK': random starts of evaluation attacks
} as const;
export type SeedStreamTag = (typeof SeedStream)[keyof typeof SeedStream];

/** murmur3's 32-bit finaliser: every input bit affects every output bit. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A 32-bit seed for item `index` of `stream` under `jobSeed`.
 * @param jobSeed integer in [−2³¹, 2³²)
 * @param index integer in [0, 2³²)
 */
export function deriveSeed(jobSeed: number, stream: SeedStreamTag, index: number): number {
  if (!Number.isInteger(jobSeed) || jobSeed < -(2 ** 31) || jobSeed >= 2 ** 32) {
    throw new PlanError('seed', jobSeed, 'must be an integer in [−2³¹, 2³²)');
  }
  if (!Number.isInteger(index) || index < 0 || index >= 2 ** 32) throw new PlanError('index', index, 'must be an integer in [0, 2³²)');
  let h = fmix32((jobSeed >>> 0) ^ stream);
  h = fmix32((h + Math.imul(index >>> 0, 0x9e3779b9)) >>> 0);
  return fmix32(h ^ 0x5bd1e995);
}
