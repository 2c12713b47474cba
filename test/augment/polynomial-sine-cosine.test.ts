import { describe, it, expect } from 'vitest';
import { sinCosDegrees } from '../../shared/augment/trig.js';

describe('sinCosDegrees', () => {
  it('is within 1e-15 of Math.sin/Math.cos over [−180°, 180°] and exact at multiples of 90°', () => {
    const out = new Float64Array(2);
    let worst = 0;
    for (let i = -36000; i <= 36000; i++) {
      const d = i / 200 + 0.00123;
      sinCosDegrees(d, out);
      const r = (d * Math.PI) / 180;
      worst = Math.max(worst, Math.abs(out[0]! - Math.sin(r)), Math.abs(out[1]! - Math.cos(r)));
    }
    expect(worst).toBeLessThan(1e-15);
    for (const [d, s, c] of [[0, 0, 1], [90, 1, 0], [-90, -1, 0], [180, 0, -1], [-180, 0, -1], [270, -1, 0], [360, 0, 1]]) {
      sinCosDegrees(d!, out);
      expect([out[0], out[1]]).toEqual([s, c]);
    }
  });
});
