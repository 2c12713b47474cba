/**
 * Wakes long-polling NextTask calls when something they wait for may have happened (a phase
 * started, tasks were handed back, the job ended). Waiters always have a deadline.
 */

export type WakeReason = 'changed' | 'timeout' | 'aborted';

export class ChangeSignal {
  private readonly waiters = new Set<(reason: WakeReason) => void>();

  /** Wakes every current waiter. */
  notify(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w('changed');
  }

  /** Resolves on the next notify, after `ms`, or when `abort` fires, whichever comes first. */
  wait(ms: number, abort?: AbortSignal): Promise<WakeReason> {
    if (abort?.aborted) return Promise.resolve('aborted');
    return new Promise((resolve) => {
      const done = (reason: WakeReason) => {
        clearTimeout(timer);
        abort?.removeEventListener('abort', onAbort);
        this.waiters.delete(done);
        resolve(reason);
      };
      const onAbort = () => done('aborted');
      const timer = setTimeout(() => done('timeout'), Math.max(0, ms));
      abort?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(done);
    });
  }

  get waiting(): number {
    return this.waiters.size;
  }
}
