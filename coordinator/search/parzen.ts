/**
 * The density estimators of TPE (Bergstra et al. 2011), as Optuna's univariate `_ParzenEstimator`
 * builds them: for a numeric param, a mixture of Gaussians truncated to the param's range, one
 * per observation plus one wide "prior" component over the whole range; for a categorical param,
 * counts plus a pseudo-count of 1 per choice. All numbers live in the sampler's working space
 * (log space for log params), so a log param's components are Gaussians in log x.
 */
import type { Rng } from '../../shared/random.js';

/** Weight of the prior component, next to weight 1 for each observation (Optuna's prior_weight). */
const PRIOR_WEIGHT = 1;

export class TruncatedGaussianMixture {
  private constructor(
    readonly mus: readonly number[],
    readonly sigmas: readonly number[],
    readonly weights: readonly number[],
    readonly low: number,
    readonly high: number,
    /** log of each component's mass inside [low, high], to renormalise the truncated density. */
    private readonly logMass: readonly number[],
  ) {}

  /**
   * Fits components at `observations` (each in [low, high]) plus the prior at the middle of the
   * range with σ = high − low. Bandwidths are hyperopt's/Optuna's neighbour rule: each σ is the
   * larger gap to its sorted neighbours (the outermost use their inner gap only), then clipped to
   * [(high − low) / min(100, n + 1), high − low] (the "magic clip"): the floor keeps a cluster
   * of equal observations from collapsing into spikes, the cap keeps every component local.
   */
  static fit(observations: readonly number[], low: number, high: number): TruncatedGaussianMixture {
    const width = high - low;
    const points = [...observations.map((mu) => ({ mu, prior: false })), { mu: (low + high) / 2, prior: true }];
    // Ties broken by kind so the fit does not depend on the order observations came in.
    points.sort((a, b) => a.mu - b.mu || Number(a.prior) - Number(b.prior));
    const n = points.length;
    const withEnds = [low, ...points.map((p) => p.mu), high];
    const sigmas = points.map((_, i) => Math.max(withEnds[i + 1]! - withEnds[i]!, withEnds[i + 2]! - withEnds[i + 1]!));
    if (n >= 2) {
      sigmas[0] = withEnds[2]! - withEnds[1]!;
      sigmas[n - 1] = withEnds[n]! - withEnds[n - 1]!;
    }
    const minSigma = width / Math.min(100, n + 1);
    for (let i = 0; i < n; i++) {
      const s = points[i]!.prior ? width : sigmas[i]!;
      sigmas[i] = Math.min(width, Math.max(minSigma, s));
    }
    const mus = points.map((p) => p.mu);
    const raw = points.map((p) => (p.prior ? PRIOR_WEIGHT : 1));
    const total = raw.reduce((a, b) => a + b, 0);
    const logMass = mus.map((mu, i) => Math.log(normalCdf((high - mu) / sigmas[i]!) - normalCdf((low - mu) / sigmas[i]!)));
    return new TruncatedGaussianMixture(mus, sigmas, raw.map((w) => w / total), low, high, logMass);
  }

  /** A draw: pick a component by weight, then draw from it by rejection (each keeps ≥ 34 % of its mass in range). */
  sample(rng: Rng): number {
    const k = pickIndex(this.weights, rng.uniform());
    const mu = this.mus[k]!;
    const sigma = this.sigmas[k]!;
    for (let tries = 0; tries < 1000; tries++) {
      const x = mu + sigma * rng.normal();
      if (x >= this.low && x <= this.high) return x;
    }
    return Math.min(this.high, Math.max(this.low, mu));
  }

  /** log density at x, summed in log space so points far from every component do not underflow to −∞. */
  logPdf(x: number): number {
    const terms = this.mus.map((mu, i) => {
      const z = (x - mu) / this.sigmas[i]!;
      return Math.log(this.weights[i]!) - 0.5 * z * z - Math.log(this.sigmas[i]! * Math.sqrt(2 * Math.PI)) - this.logMass[i]!;
    });
    return logSumExp(terms);
  }
}

export class CategoricalEstimator {
  private constructor(readonly probabilities: readonly number[]) {}

  /** p(choice c) ∝ (times c was observed) + 1. */
  static fit(observed: readonly number[], choices: number): CategoricalEstimator {
    const counts = new Array<number>(choices).fill(1);
    for (const c of observed) counts[c]! += 1;
    const total = counts.reduce((a, b) => a + b, 0);
    return new CategoricalEstimator(counts.map((c) => c / total));
  }

  sample(rng: Rng): number {
    return pickIndex(this.probabilities, rng.uniform());
  }

  logPmf(c: number): number {
    return Math.log(this.probabilities[c]!);
  }
}

/** The index whose cumulative weight first exceeds u·Σw. */
function pickIndex(weights: readonly number[], u: number): number {
  const total = weights.reduce((a, b) => a + b, 0);
  let acc = 0;
  for (let i = 0; i < weights.length; i++) {
    acc += weights[i]!;
    if (u * total < acc) return i;
  }
  return weights.length - 1;
}

function logSumExp(xs: readonly number[]): number {
  const m = Math.max(...xs);
  if (m === -Infinity) return -Infinity;
  return m + Math.log(xs.reduce((s, x) => s + Math.exp(x - m), 0));
}

/** Φ(z) through erf (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7: ample for ranking candidates). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}
