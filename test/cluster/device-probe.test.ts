/** `worker start --device cuda` on a machine without a usable CUDA provider says so loudly and runs on the CPU. */
import { describe, expect, it } from 'vitest';
import { probeDevice } from '../../worker/device-probe.js';

describe('probeDevice', () => {
  it('keeps the CPU as it is', async () => {
    const reasons: string[] = [];
    expect(await probeDevice('cpu', (r) => reasons.push(r))).toBe('cpu');
    expect(reasons).toEqual([]);
  });

  it('reports CUDA when its provider loads, and otherwise falls back to the CPU with a reason', async () => {
    const reasons: string[] = [];
    const kind = await probeDevice('cuda', (r) => reasons.push(r));
    if (kind === 'cuda') expect(reasons).toEqual([]);
    else {
      expect(kind).toBe('cpu');
      expect(reasons).toHaveLength(1);
      expect(reasons[0]).toMatch(/^cuda:0 unavailable \(.+\); FALLING BACK TO CPU$/);
    }
  });
});
