/**
 * Each trial's random stream, a pure function of (search seed, trial number): trial n draws from
 * the (n+1)-th fork of the search's root stream. So what a sampler proposes for trial n never
 * depends on how many draws earlier proposals made, and a resumed search that replays the same
 * history proposes the same trials, in whatever order they are asked for.
 */
import { Rng } from '../../shared/random.js';

/** Xored into the seed so the search's streams are not those of a plain Rng.seeded(jobSeed). */
const SEARCH_TAG = 0x53524348; // 'SRCH'

export class TrialStreams {
  private root: Rng;
  /** How many forks the root has given so far, and the state of the last one. */
  private forked = 0;
  private last: number[] = [];

  constructor(private readonly seed: number) {
    this.root = Rng.seeded(seed ^ SEARCH_TAG);
  }

  /** A fresh Rng for trial `n` (an integer >= 0); the same n always gives the same stream. */
  forTrial(n: number): Rng {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`trial number must be an integer >= 0, got ${n}`);
    // Forks chain (each one moves the root on), so asking for an earlier trial starts over;
    // trials are usually asked for in order, which makes the chain cost O(1) per trial.
    if (n < this.forked - 1) {
      this.root = Rng.seeded(this.seed ^ SEARCH_TAG);
      this.forked = 0;
    }
    while (this.forked <= n) {
      this.last = this.root.fork().state();
      this.forked++;
    }
    return Rng.fromState(this.last);
  }
}
