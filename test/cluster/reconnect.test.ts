/** A worker's wait for its coordinator: bounded exponential backoff, and when it gives up. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_RECONNECT, retryDelay, shouldGiveUp } from '../../worker/reconnect.js';

const policy = { ...DEFAULT_RECONNECT, giveUpAfterMs: 5_000 };

describe('reconnect policy', () => {
  it('doubles the delay from 200 ms and never waits more than 2 s between tries', () => {
    expect([0, 1, 2, 3, 4, 5, 20].map((a) => retryDelay(policy, a))).toEqual([200, 400, 800, 1600, 2000, 2000, 2000]);
  });

  it.each([
    { lastContact: 0, now: 4_999, giveUp: false },
    { lastContact: 0, now: 5_000, giveUp: true },
    { lastContact: 3_000, now: 7_000, giveUp: false },
  ])('last contact at $lastContact, now $now → give up: $giveUp', ({ lastContact, now, giveUp }) => {
    expect(shouldGiveUp(policy, lastContact, now)).toBe(giveUp);
  });
});
