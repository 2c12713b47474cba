/**
 * Integer powers by repeated squaring. Math.pow is not required to be correctly rounded and its
 * last bit has changed between engine versions; products of IEEE multiplications are the same
 * everywhere, so a restored run on another Node computes the same bias corrections and decays.
 */

/** base^n for an integer n ≥ 0, by multiplications only. */
export function powInt(base: number, n: number): number {
  let result = 1;
  let b = base;
  let e = n;
  while (e > 0) {
    if (e % 2 === 1) result *= b;
    b *= b;
    e = Math.floor(e / 2);
  }
  return result;
}
