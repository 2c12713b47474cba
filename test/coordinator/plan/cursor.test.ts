/** The (epoch, step) cursor: advancing, global step, save and restore. */
import { describe, expect, it } from 'vitest';
import { START_CURSOR, advanceCursor, cursorAt, globalStepOf, restoreCursor, type PlanCursor } from '../../../coordinator/plan/cursor.js';

describe('PlanCursor', () => {
  it('walks the steps of an epoch and rolls over into the next', () => {
    const seen: PlanCursor[] = [];
    let c = START_CURSOR;
    for (let i = 0; i < 7; i++) {
      seen.push(c);
      c = advanceCursor(c, 3);
    }
    expect(seen.map((x) => `${x.epoch}:${x.step}`)).toEqual(['0:0', '0:1', '0:2', '1:0', '1:1', '1:2', '2:0']);
    expect(c).toEqual({ epoch: 2, step: 1 });
  });

  it('maps to and from the global step count', () => {
    for (let g = 0; g < 50; g++) {
      const c = cursorAt(g, 7);
      expect(globalStepOf(c, 7)).toBe(g);
      expect(advanceCursor(c, 7)).toEqual(cursorAt(g + 1, 7));
    }
    expect(cursorAt(15, 7)).toEqual({ epoch: 2, step: 1 });
  });

  it('survives a JSON round trip and rejects damaged values', () => {
    const c = cursorAt(23, 5);
    expect(restoreCursor(JSON.parse(JSON.stringify(c)), 5)).toEqual(c);
    expect(() => restoreCursor({ epoch: 1, step: 5 }, 5)).toThrow(/`cursor.step` must be an integer in \[0, 4\], got 5/);
    expect(() => restoreCursor({ epoch: -1, step: 0 }, 5)).toThrow(/`cursor.epoch` must be an integer ≥ 0, got -1/);
    expect(() => restoreCursor({ step: 0 }, 5)).toThrow(/`cursor.epoch`/);
    expect(() => restoreCursor(null, 5)).toThrow(/`cursor` must be an object/);
  });
});
