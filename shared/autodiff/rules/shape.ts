/** Gradient rules: shape family (being written). */
import type { RuleTable } from '../registry.js';

export const shapeRules: RuleTable = {
  // Y = X ⇒ dX = dY
  Identity: { infer: (ctx) => [ctx.input(0)!], grad: (ctx) => [ctx.dy(0)] },
};
