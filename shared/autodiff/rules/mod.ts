/**
 * Mod: integer remainder (fmod=0, the sign of the divisor, as Python's %) and float remainder
 * (fmod=1, the sign of the dividend, as C's fmod). Integer Mod carries no gradient (integers
 * never do: the backward walk never asks for one); float Mod is A − B·trunc(A/B), so
 *
 *   dA = dY,   dB = −dY·trunc(A/B)
 *
 * (each summed back over its broadcast axes). The hashed dense layer (shared/model/hashed.ts)
 * computes its bucket and sign hashes with integer Mod.
 */
import type { RuleTable, GradContext } from '../registry.js';
import { attrInt } from '../../onnx/attributes.js';
import { DT } from '../../onnx/tensor.js';
import { GradientError } from '../errors.js';
import { broadcastInfer, sumToShape } from './common.js';

const FLOATS: ReadonlySet<number> = new Set([DT.FLOAT, DT.DOUBLE, DT.FLOAT16, DT.BFLOAT16]);

function modGrad(ctx: GradContext): (string | undefined)[] {
  const { b, node } = ctx;
  if (!FLOATS.has(ctx.info(ctx.x(0)).elemType)) return [];
  if (attrInt(node, 'fmod', 0) !== 1) throw new GradientError(node.opType, node.name, 'a float Mod needs fmod=1 (ONNX defines fmod=0 for integers only)');
  const dy = ctx.dy(0)!;
  const yShape = ctx.info(ctx.y(0)).shape;
  const dA = ctx.needs(0) ? sumToShape(ctx, dy, ctx.x(0), yShape) : undefined;
  let dB: string | undefined;
  if (ctx.needs(1)) {
    // trunc(v) = sign(v)·floor(|v|)
    const q = b.op('Div', [ctx.x(0), ctx.x(1)]);
    const trunc = b.op('Mul', [b.op('Sign', [q]), b.op('Floor', [b.op('Abs', [q])])], {}, 'mod_quotient');
    dB = sumToShape(ctx, b.op('Neg', [b.op('Mul', [dy, trunc])]), ctx.x(1), yShape);
  }
  return [dA, dB];
}

export const modRules: RuleTable = {
  Mod: { infer: broadcastInfer, grad: modGrad },
};
