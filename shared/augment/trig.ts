/**
 * Sine and cosine of an angle in degrees with IEEE-exact operations only (+ − × ÷, Math.round),
 * so that rotations are the same bits on every JS engine: Math.sin/Math.cos may differ in the
 * last bit between engines.
 *
 * The angle is reduced exactly to e = d − 90·q in [−45°, 45°] (q = round(d/90); the subtraction of
 * an integer multiple of 90 from a double is one correctly rounded operation), converted to
 * radians r = e·(π/180) (|r| ≤ π/4), and sin r, cos r are their Taylor polynomials through r¹⁵ and
 * r¹⁶, evaluated by Horner's rule in float64: the first omitted terms are below 5·10⁻¹⁷ and 3·10⁻¹⁸,
 * so the values are within a few float64 ulps of the true ones (far below float32's resolution).
 * The quadrant q then swaps and negates them: multiples of 90° give exactly 0 and ±1.
 */

const RADIANS_PER_DEGREE = Math.PI / 180;

// 1/n! as correctly rounded divisions of exact integers (deterministic everywhere).
const S3 = -1 / 6;
const S5 = 1 / 120;
const S7 = -1 / 5040;
const S9 = 1 / 362880;
const S11 = -1 / 39916800;
const S13 = 1 / 6227020800;
const S15 = -1 / 1307674368000;
const C2 = -1 / 2;
const C4 = 1 / 24;
const C6 = -1 / 720;
const C8 = 1 / 40320;
const C10 = -1 / 3628800;
const C12 = 1 / 479001600;
const C14 = -1 / 87178291200;
const C16 = 1 / 20922789888000;

/** sin r for |r| ≤ π/4. */
function sinSmall(r: number): number {
  const r2 = r * r;
  return r + r * r2 * (S3 + r2 * (S5 + r2 * (S7 + r2 * (S9 + r2 * (S11 + r2 * (S13 + r2 * S15))))));
}

/** cos r for |r| ≤ π/4. */
function cosSmall(r: number): number {
  const r2 = r * r;
  return 1 + r2 * (C2 + r2 * (C4 + r2 * (C6 + r2 * (C8 + r2 * (C10 + r2 * (C12 + r2 * (C14 + r2 * C16)))))));
}

/** Writes sin and cos of `degrees` (any finite angle) into out[0] and out[1]. */
export function sinCosDegrees(degrees: number, out: Float64Array): void {
  const d = degrees - 360 * Math.round(degrees / 360); // [-180, 180]
  const q = Math.round(d / 90); // -2..2
  const r = (d - 90 * q) * RADIANS_PER_DEGREE;
  const s = sinSmall(r);
  const c = cosSmall(r);
  switch (q) {
    case 0:
      out[0] = s;
      out[1] = c;
      break;
    case 1: // sin(e + 90°) = cos e, cos(e + 90°) = −sin e
      out[0] = c;
      out[1] = -s;
      break;
    case -1: // sin(e − 90°) = −cos e, cos(e − 90°) = sin e
      out[0] = -c;
      out[1] = s;
      break;
    default: // ±180°: sin(e ± 180°) = −sin e, cos(e ± 180°) = −cos e
      out[0] = -s;
      out[1] = -c;
  }
  // −0 from a negation is +0: the same bits whatever the quadrant.
  out[0] = out[0]! + 0;
  out[1] = out[1]! + 0;
}
