/**
 * How a worker waits for a coordinator it cannot reach: calls are retried after an exponential,
 * bounded backoff, and the worker gives up once nothing has reached the coordinator for
 * `giveUpAfterMs` (--unreachable-timeout). Pure functions of the state and the clock.
 */

export interface ReconnectPolicy {
  /** Delay before the first retry. */
  initialMs: number;
  /** The longest delay between two retries. */
  maxMs: number;
  multiplier: number;
  /** Give up when the last successful call is this old. */
  giveUpAfterMs: number;
}

export const DEFAULT_RECONNECT: Omit<ReconnectPolicy, 'giveUpAfterMs'> = { initialMs: 200, maxMs: 2_000, multiplier: 2 };

/** Delay before retry number `attempt` (0 for the first retry). */
export function retryDelay(p: ReconnectPolicy, attempt: number): number {
  return Math.min(p.maxMs, Math.round(p.initialMs * p.multiplier ** Math.max(0, attempt)));
}

/** Whether to give up: the last call that reached the coordinator ended `giveUpAfterMs` ago or more. */
export function shouldGiveUp(p: ReconnectPolicy, lastContact: number, now: number): boolean {
  return now - lastContact >= p.giveUpAfterMs;
}
