/** The worker registry: leases renewed by any call, expiry as a pure function of the clock. */
import { describe, expect, it } from 'vitest';
import { WorkerRegistry, noWorkersWarningDue, type WorkerInfo } from '../../coordinator/dispatch/worker-registry.js';

const info = (name: string): WorkerInfo => ({ name, device: 'cpu', deviceDetail: 'cpu (1 thread)', threads: 1, version: 'test' });

describe('WorkerRegistry', () => {
  it('renews a lease on every touch and expires a worker only once its lease ran out', () => {
    const r = new WorkerRegistry({ leaseMs: 1000, idPrefix: 'x' }, 0);
    const a = r.register(info('a'), 0);
    const b = r.register(info('b'), 0);
    expect(r.touch(a.id, 900)).toBeDefined();
    expect(r.expire(1000)).toEqual([]); // a lease ending at 1000 is still valid at 1000
    const lost = r.expire(1001);
    expect(lost.map((w) => w.id)).toEqual([b.id]);
    expect(r.get(b.id)).toBeUndefined();
    expect(r.expire(1002)).toEqual([]); // reported once
    expect(r.touch(b.id, 1003)).toBeUndefined();
    expect(r.expire(1901).map((w) => w.id)).toEqual([a.id]);
  });

  it('gives every worker its own id, with a prefix that differs between coordinator starts', () => {
    const r1 = new WorkerRegistry({ leaseMs: 1000 }, 0);
    const r2 = new WorkerRegistry({ leaseMs: 1000 }, 0);
    const ids1 = [r1.register(info('a'), 0).id, r1.register(info('b'), 0).id];
    const id2 = r2.register(info('a'), 0).id;
    expect(new Set(ids1).size).toBe(2);
    expect(ids1).not.toContain(id2);
  });

  it('follows the lifecycle registered → training → draining → gone', () => {
    const r = new WorkerRegistry({ leaseMs: 1000, idPrefix: 'x' }, 0);
    const w = r.register(info('a'), 0);
    const states: string[] = [w.state];
    r.markTraining(w.id);
    states.push(r.get(w.id)!.state);
    r.drain(w.id);
    r.markTraining(w.id); // a draining worker does not go back to training
    states.push(r.get(w.id)!.state);
    expect(r.remove(w.id, 10)).toBeDefined();
    states.push(r.get(w.id)?.state ?? 'gone');
    expect(states).toEqual(['registered', 'training', 'draining', 'gone']);
  });

  it('measures how long the pool has been empty', () => {
    const r = new WorkerRegistry({ leaseMs: 100, idPrefix: 'x' }, 0);
    expect(r.emptyFor(500)).toBe(500);
    const w = r.register(info('a'), 500);
    expect(r.emptyFor(600)).toBe(0);
    r.remove(w.id, 700);
    expect(r.emptyFor(1000)).toBe(300);
    r.register(info('b'), 1000);
    expect(r.expire(1101)).toHaveLength(1);
    expect(r.emptyFor(1200)).toBe(99);
  });
});

describe('noWorkersWarningDue', () => {
  it.each([
    { emptyFor: 0, last: undefined, now: 10_000, due: false, why: 'workers are connected' },
    { emptyFor: 29_999, last: undefined, now: 29_999, due: false, why: 'not empty for long enough' },
    { emptyFor: 30_000, last: undefined, now: 30_000, due: true, why: 'first warning' },
    { emptyFor: 40_000, last: 30_000, now: 40_000, due: false, why: 'warned recently' },
    { emptyFor: 60_000, last: 30_000, now: 60_000, due: true, why: 'repeats after another period' },
  ])('$why → $due', ({ emptyFor, last, now, due }) => {
    expect(noWorkersWarningDue(emptyFor, last, now, 30_000)).toBe(due);
  });
});
