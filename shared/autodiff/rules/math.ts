/**
 * Gradient rules for elementwise math: Neg, Exp, Log, Sqrt, Pow, Erf, Reciprocal, Abs, Clip.
 * Only the data input is differentiated. Pow's exponent and Clip's bounds are `nondiff`: they are
 * hyper-parameters of the op (a constant power, fixed bounds), never trained, so the compiler does
 * not make an initializer that feeds only them a parameter.
 */
import type { GradContext, RuleTable } from '../registry.js';
import { broadcastInfer, sameAsInput0, sumToShape } from './common.js';

/** Gradient of a single-input op whose dX is `dx(dY)`, emitted only when X needs one. */
function unary(dx: (ctx: GradContext, dy: string) => string): (ctx: GradContext) => (string | undefined)[] {
  return (ctx) => [ctx.needs(0) ? dx(ctx, ctx.dy(0)!) : undefined];
}

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/**
 * dY·e·X^(e−1) at the output's shape. A constant scalar exponent folds into constants (e = 0, 1, 2
 * need no Pow at all); any other exponent is computed at run time, cast to the base's type first
 * because ONNX lets the exponent be an integer tensor.
 */
function powGradAtOutput(ctx: GradContext, dy: string): string {
  const { b } = ctx;
  const x = ctx.x(0);
  const e = ctx.x(1);
  const folded = ctx.constant(e);
  if (folded && folded.length === 1) {
    const k = folded[0]!;
    if (k === 0) return b.op('Mul', [dy, b.scalar(0)]);
    if (k === 1) return dy;
    if (k === 2) return b.op('Mul', [dy, b.op('Mul', [x, b.scalar(2)])]);
    return b.op('Mul', [dy, b.op('Mul', [b.op('Pow', [x, b.scalar(k - 1)]), b.scalar(k)])]);
  }
  const xType = ctx.info(x).elemType;
  const ef = ctx.info(e).elemType === xType ? e : b.op('Cast', [e], { to: xType });
  return b.op('Mul', [dy, b.op('Mul', [b.op('Pow', [x, b.op('Sub', [ef, b.scalar(1)])]), ef])]);
}

/** The condition min < X < max for Clip's given bounds, or undefined when it has none. */
function insideClipBounds(ctx: GradContext): string | undefined {
  const { b } = ctx;
  const x = ctx.x(0);
  const lo = ctx.x(1) ? b.op('Greater', [x, ctx.x(1)]) : undefined;
  const hi = ctx.x(2) ? b.op('Less', [x, ctx.x(2)]) : undefined;
  return lo && hi ? b.op('And', [lo, hi]) : (lo ?? hi);
}

export const mathRules: RuleTable = {
  // Y = −X ⇒ dX = −dY
  Neg: {
    infer: sameAsInput0,
    grad: unary((ctx, dy) => ctx.b.op('Neg', [dy])),
  },

  // Y = eˣ ⇒ dX = dY·Y
  Exp: {
    infer: sameAsInput0,
    grad: unary((ctx, dy) => ctx.b.op('Mul', [dy, ctx.y(0)])),
  },

  // Y = ln X ⇒ dX = dY/X
  Log: {
    infer: sameAsInput0,
    grad: unary((ctx, dy) => ctx.b.op('Div', [dy, ctx.x(0)])),
  },

  // Y = √X ⇒ dX = dY/(2Y)
  Sqrt: {
    infer: sameAsInput0,
    grad: unary((ctx, dy) => ctx.b.op('Div', [ctx.b.op('Mul', [dy, ctx.b.scalar(0.5)]), ctx.y(0)])),
  },

  // Y = X^E ⇒ dX = dY·E·X^(E−1), summed back to X's shape where E broadcast X up.
  // E gets no gradient (nondiff): gradfleet differentiates only the base.
  Pow: {
    infer: broadcastInfer,
    nondiff: [1],
    grad: (ctx) => {
      if (!ctx.needs(0)) return [undefined];
      const g = powGradAtOutput(ctx, ctx.dy(0)!);
      return [sumToShape(ctx, g, ctx.x(0), ctx.info(ctx.y(0)).shape)];
    },
  },

  // Y = erf(X) ⇒ dX = dY·2/√π·exp(−X²)
  Erf: {
    infer: sameAsInput0,
    grad: unary((ctx, dy) => {
      const { b } = ctx;
      const x = ctx.x(0);
      const gauss = b.op('Exp', [b.op('Neg', [b.op('Mul', [x, x])])]);
      return b.op('Mul', [dy, b.op('Mul', [gauss, b.scalar(TWO_OVER_SQRT_PI)])]);
    }),
  },

  // Y = 1/X ⇒ dX = −dY/X² = −dY·Y²
  Reciprocal: {
    infer: sameAsInput0,
    grad: unary((ctx, dy) => {
      const { b } = ctx;
      const y = ctx.y(0);
      return b.op('Neg', [b.op('Mul', [dy, b.op('Mul', [y, y])])]);
    }),
  },

  // Y = |X| ⇒ dX = dY·sign(X)   (0 at the kink)
  Abs: {
    infer: sameAsInput0,
    grad: unary((ctx, dy) => ctx.b.op('Mul', [dy, ctx.b.op('Sign', [ctx.x(0)])])),
  },

  // Y = min(max(X, lo), hi) ⇒ dX = dY where lo < X < hi, else 0 (a missing bound always passes).
  // lo and hi get no gradient (nondiff).
  Clip: {
    infer: sameAsInput0,
    nondiff: [1, 2],
    grad: (ctx) => {
      if (!ctx.needs(0)) return [undefined];
      const dy = ctx.dy(0)!;
      const inside = insideClipBounds(ctx);
      return [inside ? ctx.b.op('Where', [inside, dy, ctx.b.scalar(0)]) : dy];
    },
  },
};
