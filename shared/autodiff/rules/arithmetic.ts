/** Gradient rules for numpy-broadcasting arithmetic: Add, Sub, Mul, Div. */
import type { RuleTable, GradContext } from '../registry.js';
import { broadcastInfer, sumToShape } from './common.js';

/** Reduces a gradient at the output's shape to input i's shape, if input i needs one. */
function toInput(ctx: GradContext, i: number, g: () => string): string | undefined {
  if (!ctx.needs(i)) return undefined;
  return sumToShape(ctx, g(), ctx.x(i), ctx.info(ctx.y(0)).shape);
}

export const arithmeticRules: RuleTable = {

  // Y = A + B ⇒ dA = dY, dB = dY (each summed back over its broadcast axes)
  Add: {
    infer: broadcastInfer,
    grad: (ctx) => {
      const dy = ctx.dy(0)!;
      return [toInput(ctx, 0, () => dy), toInput(ctx, 1, () => dy)];
    },
  },
  // Y = A − B ⇒ dA = dY, dB = −dY
  Sub: {
    infer: broadcastInfer,
    grad: (ctx) => {
      const dy = ctx.dy(0)!;
      return [toInput(ctx, 0, () => dy), toInput(ctx, 1, () => ctx.b.op('Neg', [dy]))];
    },
  },
  // Y = A·B ⇒ dA = dY·B, dB = dY·A
  Mul: {
    infer: broadcastInfer,
    grad: (ctx) => {
      const dy = ctx.dy(0)!;
      return [toInput(ctx, 0, () => ctx.b.op('Mul', [dy, ctx.x(1)])), toInput(ctx, 1, () => ctx.b.op('Mul', [dy, ctx.x(0)]))];
    },
  },
  // Y = A/B ⇒ dA = dY/B, dB = −dY·Y/B  (Y/B = A/B², reusing the forward output)
  Div: {
    infer: broadcastInfer,
    grad: (ctx) => {
      const { b } = ctx;
      const dy = ctx.dy(0)!;
      return [toInput(ctx, 0, () => b.op('Div', [dy, ctx.x(1)])), toInput(ctx, 1, () => b.op('Neg', [b.op('Div', [b.op('Mul', [dy, ctx.y(0)]), ctx.x(1)])]))];
    },
  },
};
