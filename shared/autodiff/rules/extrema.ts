/**
 * Gradient rules for ReduceMax and ReduceMin (axes as an attribute up to opset 17, as an input
 * from opset 18, as reduce.ts reads them).
 *
 *   Y = max_axes X ⇒ dX = dY·[X = Y] / #{X = Y}
 *
 * The gradient goes to the elements that attain the extreme, shared equally between ties, as
 * PyTorch's amax/amin define it.
 */
import type { RuleTable, GradContext } from '../registry.js';
import { attrInt } from '../../onnx/attributes.js';
import { DT } from '../../onnx/tensor.js';
import { gradientAxes, reduceInfer } from './reduce.js';

function extremumGrad(ctx: GradContext): (string | undefined)[] {
  if (!ctx.needs(0)) return [];
  const { b, node } = ctx;
  const x = ctx.x(0);
  const all = gradientAxes(ctx);
  if (all.length === 0) return [ctx.dy(0)]; // noop_with_empty_axes: Y = X
  let y = ctx.y(0);
  let dy = ctx.dy(0)!;
  if (attrInt(node, 'keepdims', 1) === 0) {
    const unsqueezeAxes = b.ints(all);
    y = b.op('Unsqueeze', [y, unsqueezeAxes]);
    dy = b.op('Unsqueeze', [dy, unsqueezeAxes]);
  }
  const hits = b.op('Cast', [b.op('Equal', [x, y])], { to: DT.FLOAT }, 'extremum_hits');
  const ties = b.op('ReduceSum', [hits, b.ints(all)], { keepdims: 1 }, 'extremum_ties');
  return [b.op('Mul', [hits, b.op('Div', [dy, ties])])];
}

export const extremaRules: RuleTable = {
  ReduceMax: { infer: reduceInfer, grad: extremumGrad },
  ReduceMin: { infer: reduceInfer, grad: extremumGrad },
};
