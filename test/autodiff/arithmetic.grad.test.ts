import { describe, it, expect } from 'vitest';
import { gradcheck } from '../helpers/gradcheck.js';

describe('arithmetic gradient rules match central differences', () => {
  const cases: [string, number[], number[]][] = [
    ['same shapes', [3, 4], [3, 4]],
    ['row broadcast', [3, 4], [4]],
    ['column broadcast with 1s', [2, 3, 4], [3, 1]],
    ['both broadcast', [3, 1], [1, 4]],
    ['scalar', [2, 3], []],
  ];
  for (const op of ['Add', 'Sub', 'Mul', 'Div']) {
    for (const [label, sa, sb] of cases) {
      it(`${op}: ${label} [${sa}] ∘ [${sb}]`, async () => {
        const r = await gradcheck({
          inputs: [
            { name: 'A', shape: sa },
            { name: 'B', shape: sb, lo: op === 'Div' ? 0.5 : -1, hi: op === 'Div' ? 2 : 1 },
          ],
          build: (b, [a, bb]) => [b.op(op, [a!, bb!])],
        });
        expect(r.checked).toBeGreaterThan(0);
        expect(r.maxAbsErr).toBeLessThan(5e-3);
      });
    }
  }
});
