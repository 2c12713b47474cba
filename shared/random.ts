/**
 * Seeded randomness for everything that must reproduce: initialisation, permutations, bootstrap
 * samples, dropout seeds, test data. A thin wrapper over pure-rand's xoroshiro128+ whose state
 * can be saved into a checkpoint and restored exactly.
 *
 * Integer draws are bit-identical on every engine. normal() uses Math.log/Math.cos, which may
 * differ in the last bit across JS engines: it is used only where one process draws the values
 * (initialisation on the coordinator), never where two machines must agree.
 */
import { xoroshiro128plus, xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';

export class Rng {
  private constructor(private g: JumpableRandomGenerator) {}

  static seeded(seed: number): Rng {
    return new Rng(xoroshiro128plus(seed | 0));
  }

  static fromState(state: readonly number[]): Rng {
    return new Rng(xoroshiro128plusFromState(state));
  }

  state(): number[] {
    return [...this.g.getState()];
  }

  /** An independent stream 2^64 draws away (for per-run or per-member streams). */
  fork(): Rng {
    const c = this.g.clone() as JumpableRandomGenerator;
    c.jump();
    this.g.jump();
    this.g.jump();
    return new Rng(c);
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return uniformFloat64(this.g);
  }

  /** Uniform integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number {
    return uniformInt(this.g, lo, hi);
  }

  /** Standard normal draw (Box–Muller). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Fisher–Yates permutation of 0..n-1, integer draws only (identical on every engine). */
  permutation(n: number): Uint32Array {
    const p = new Uint32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(0, i);
      const t = p[i]!;
      p[i] = p[j]!;
      p[j] = t;
    }
    return p;
  }

  floats(n: number, lo = -1, hi = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * this.uniform();
    return out;
  }
}
