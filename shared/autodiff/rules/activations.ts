/**
 * Gradient rules for pointwise activations: Relu, LeakyRelu, Sigmoid, Tanh, Gelu (opset 20),
 * Elu, Softplus. Every output has input 0's shape and type. Where the derivative is a function of
 * the forward output (Sigmoid, Tanh, Elu's negative branch) the rule reads Y instead of
 * recomputing it from X.
 */
import type { GradContext, InferContext, RuleTable } from '../registry.js';
import type { TensorInfo } from '../../onnx/shapes.js';
import { attrFloat, attrString } from '../../onnx/attributes.js';
import { OnnxShapeError } from '../../onnx/errors.js';
import { sameAsInput0 } from './common.js';

/** Gradient of a single-input op whose dX is `dx(dY)`, emitted only when X needs one. */
function unary(dx: (ctx: GradContext, dy: string) => string): (ctx: GradContext) => (string | undefined)[] {
  return (ctx) => [ctx.needs(0) ? dx(ctx, ctx.dy(0)!) : undefined];
}

/** dY where `cond` holds, 0 elsewhere. */
function passWhere(ctx: GradContext, cond: string, dy: string): string {
  return ctx.b.op('Where', [cond, dy, ctx.b.scalar(0)]);
}

/** Gelu's `approximate` attribute, checked: ONNX allows only 'none' and 'tanh'. */
function geluApproximation(node: InferContext['node']): 'none' | 'tanh' {
  const a = attrString(node, 'approximate', 'none');
  if (a !== 'none' && a !== 'tanh') throw new OnnxShapeError(node.name, node.opType, `attribute approximate must be 'none' or 'tanh', got '${a}'`);
  return a;
}

/** Gelu joined the default domain in opset 20; in an older model the node is not a standard op. */
function geluInfer(ctx: InferContext): TensorInfo[] {
  if (ctx.opset < 20) throw new OnnxShapeError(ctx.node.name, ctx.node.opType, `Gelu is an opset-20 op but the model imports opset ${ctx.opset}; write it as x·0.5·(1+erf(x/√2)) or raise the opset`);
  geluApproximation(ctx.node);
  return sameAsInput0(ctx);
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const GELU_TANH_CUBIC = 0.044715;

/**
 * Y = x·Φ(x), Φ(x) = ½(1+erf(x/√2)) ⇒ dX = dY·(Φ(x) + x·φ(x)), φ(x) = exp(−x²/2)/√(2π)
 */
function geluErfGrad(ctx: GradContext, dy: string): string {
  const { b } = ctx;
  const x = ctx.x(0);
  const cdf = b.op('Mul', [b.op('Add', [b.op('Erf', [b.op('Mul', [x, b.scalar(INV_SQRT_2)])]), b.scalar(1)]), b.scalar(0.5)]);
  const pdf = b.op('Mul', [b.op('Exp', [b.op('Mul', [b.op('Mul', [x, x]), b.scalar(-0.5)])]), b.scalar(INV_SQRT_2PI)]);
  return b.op('Mul', [dy, b.op('Add', [cdf, b.op('Mul', [x, pdf])])]);
}

/**
 * Y = ½x(1+t), t = tanh(u), u = √(2/π)(x + c·x³), c = 0.044715
 * ⇒ dX = dY·(½(1+t) + ½x(1−t²)·√(2/π)(1 + 3c·x²))
 */
function geluTanhGrad(ctx: GradContext, dy: string): string {
  const { b } = ctx;
  const x = ctx.x(0);
  const x2 = b.op('Mul', [x, x]);
  // u = √(2/π)·x·(1 + c·x²)
  const u = b.op('Mul', [b.op('Mul', [x, b.op('Add', [b.op('Mul', [x2, b.scalar(GELU_TANH_CUBIC)]), b.scalar(1)])]), b.scalar(SQRT_2_OVER_PI)]);
  const t = b.op('Tanh', [u]);
  const du = b.op('Mul', [b.op('Add', [b.op('Mul', [x2, b.scalar(3 * GELU_TANH_CUBIC)]), b.scalar(1)]), b.scalar(SQRT_2_OVER_PI)]);
  const sech2 = b.op('Sub', [b.scalar(1), b.op('Mul', [t, t])]);
  const outer = b.op('Mul', [b.op('Add', [t, b.scalar(1)]), b.scalar(0.5)]);
  const inner = b.op('Mul', [b.op('Mul', [b.op('Mul', [x, b.scalar(0.5)]), sech2]), du]);
  return b.op('Mul', [dy, b.op('Add', [outer, inner])]);
}

export const activationRules: RuleTable = {
  // Y = max(X, 0) ⇒ dX = dY·[X > 0]  (0 at the kink, as PyTorch; [Y > 0] is the same mask)
  Relu: {
    infer: sameAsInput0,
    grad: unary((ctx, dy) => passWhere(ctx, ctx.b.op('Greater', [ctx.y(0), ctx.b.scalar(0)]), dy)),
  },

  // Y = X if X > 0 else α·X ⇒ dX = dY if X > 0 else α·dY   (α defaults to 0.01)
  LeakyRelu: {
    infer: sameAsInput0,
    grad: unary((ctx, dy) => {
      const { b } = ctx;
      const alpha = attrFloat(ctx.node, 'alpha', 0.01);
      // The mask reads X, not Y: with a negative α, Y > 0 would select the wrong branch.
      return b.op('Where', [b.op('Greater', [ctx.x(0), b.scalar(0)]), dy, b.op('Mul', [dy, b.scalar(alpha)])]);
    }),
  },

  // Y = σ(X) ⇒ dX = dY·Y·(1 − Y)
  Sigmoid: {
    infer: sameAsInput0,
    grad: unary((ctx, dy) => {
      const { b } = ctx;
      const y = ctx.y(0);
      return b.op('Mul', [b.op('Mul', [dy, y]), b.op('Sub', [b.scalar(1), y])]);
    }),
  },

  // Y = tanh(X) ⇒ dX = dY·(1 − Y²)
  Tanh: {
    infer: sameAsInput0,
    grad: unary((ctx, dy) => {
      const { b } = ctx;
      const y = ctx.y(0);
      return b.op('Mul', [dy, b.op('Sub', [b.scalar(1), b.op('Mul', [y, y])])]);
    }),
  },

  // Y = x·Φ(x) (approximate='none') or its tanh approximation; derivatives at geluErfGrad / geluTanhGrad.
  Gelu: {
    infer: geluInfer,
    grad: unary((ctx, dy) => (geluApproximation(ctx.node) === 'tanh' ? geluTanhGrad(ctx, dy) : geluErfGrad(ctx, dy))),
  },

  // Y = X if X > 0 else α(eˣ − 1) ⇒ dX = dY if X > 0 else dY·(Y + α)   (α defaults to 1)
  Elu: {
    infer: sameAsInput0,
    grad: unary((ctx, dy) => {
      const { b } = ctx;
      const alpha = attrFloat(ctx.node, 'alpha', 1);
      const negative = b.op('Mul', [dy, b.op('Add', [ctx.y(0), b.scalar(alpha)])]);
      return b.op('Where', [b.op('Greater', [ctx.x(0), b.scalar(0)]), dy, negative]);
    }),
  },

  // Y = ln(1 + eˣ) ⇒ dX = dY·σ(X)
  // (1 − e^(−Y) equals σ(X) too, but loses all precision for very negative X.)
  Softplus: {
    infer: sameAsInput0,
    grad: unary((ctx, dy) => ctx.b.op('Mul', [dy, ctx.b.op('Sigmoid', [ctx.x(0)])])),
  },
};
