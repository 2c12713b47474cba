/**
 * The live dashboard's state (coordinator/observe/live-feed.ts, workers-table.ts): what a page
 * that connects is sent, how old step records are thinned, a resumed run's rewind, the workers
 * table keeping a worker that is gone, and the scheduler's per-worker tallies behind it.
 */
import { describe, it, expect } from 'vitest';
import { LiveFeed, type DashboardJob, type FeedEvent } from '../../coordinator/observe/live-feed.js';
import { WorkersTable } from '../../coordinator/observe/workers-table.js';
import { Scheduler, type PhaseOwner } from '../../coordinator/dispatch/scheduler.js';
import { taskKey, type TaskResult, type TaskSpec } from '../../coordinator/run/task.js';

const JOB: DashboardJob = { name: 'j', jobId: 'j-1', runDir: '/tmp/x', parameters: 10, trainingSamples: 100, plannedSteps: 50, epochs: 2, runs: ['j'], startedAt: 0 };
const step = (run: string, n: number) => ({ type: 'step', run, step: n, epoch: 0, loss: 1 / n, samples: 8, time: n });
const evalRecord = (run: string, n: number) => ({ type: 'eval', run, step: n, split: 'validation', loss: 0.5, accuracy: 0.9, time: n });

describe('live feed', () => {
  it('sends every record to listeners and holds them for a page that connects later', () => {
    const feed = new LiveFeed(JOB);
    const seen: FeedEvent[] = [];
    const off = feed.subscribe((e) => seen.push(e));
    feed.record(step('j', 1));
    feed.record(evalRecord('j', 1));
    off();
    feed.record(step('j', 2));
    expect(seen.map((e) => e.type)).toEqual(['record', 'record']);
    expect(feed.snapshot().records.map((r) => [r.type, r.step])).toEqual([['step', 1], ['eval', 1], ['step', 2]]);
    expect(feed.snapshot().status).toEqual({ state: 'training' });
  });

  it('thins old step records of a run past its limit, keeping the newest step and every evaluation', () => {
    const feed = new LiveFeed(JOB, { maxStepsPerRun: 10 });
    for (let n = 1; n <= 11; n++) {
      feed.record(step('j', n));
      feed.record(step('other', n));
      if (n % 5 === 0) feed.record(evalRecord('j', n));
    }
    const records = feed.snapshot().records;
    const jSteps = records.filter((r) => r.run === 'j' && r.type === 'step').map((r) => r.step);
    // 11 > 10: every other one is dropped, counted back from the newest (11).
    expect(jSteps).toEqual([1, 3, 5, 7, 9, 11]);
    expect(records.filter((r) => r.type === 'eval').map((r) => r.step)).toEqual([5, 10]);
    // Another run's records are not touched by this run's thinning (it is thinned at its own 11th).
    expect(records.filter((r) => r.run === 'other').map((r) => r.step)).toEqual([1, 3, 5, 7, 9, 11]);
    // The count restarts from what is kept: five more steps before the next thinning.
    for (let n = 12; n <= 15; n++) feed.record(step('j', n));
    expect(feed.snapshot().records.filter((r) => r.run === 'j' && r.type === 'step')).toHaveLength(10);
  });

  it("drops a run's records after the step a resume restarts from, and keeps other runs'", () => {
    const feed = new LiveFeed(JOB);
    for (let n = 1; n <= 6; n++) feed.record(step('j', n));
    feed.record(evalRecord('j', 5));
    feed.record(step('k', 6));
    feed.record({ type: 'resume', run: 'j', step: 4, epoch: 0, from: 'checkpoints/4.ckpt', time: 7 });
    expect(feed.snapshot().records.map((r) => `${r.run}:${r.type}:${r.step}`)).toEqual(['j:step:1', 'j:step:2', 'j:step:3', 'j:step:4', 'k:step:6', 'j:resume:4']);
  });

  it('announces the workers table only when it changed, and the end with its summary', () => {
    const feed = new LiveFeed(JOB);
    const seen: FeedEvent[] = [];
    feed.subscribe((e) => seen.push(e));
    const row = { id: 'w1', name: 'a', device: 'cpu', threads: 1, state: 'training' as const, registeredAt: 1, lastSeen: 2, microbatches: 3, evalTasks: 0, failures: 0 };
    feed.setWorkers([row], 10);
    feed.setWorkers([{ ...row }], 11);
    feed.setWorkers([{ ...row, lastSeen: 3 }], 12);
    feed.end({ state: 'finished', reason: 'done', summaryLines: ['j: done'] });
    expect(seen).toEqual([
      { type: 'workers', workers: [row], at: 10 },
      { type: 'workers', workers: [{ ...row, lastSeen: 3 }], at: 12 },
      { type: 'status', status: { state: 'finished', reason: 'done', summaryLines: ['j: done'] } },
    ]);
    expect(feed.snapshot(99)).toMatchObject({ at: 99, status: { state: 'finished' }, workers: [{ lastSeen: 3 }] });
  });
});

describe('workers table', () => {
  it("shows worker ids without their secret part (an id is a worker's credential)", () => {
    const rows = new WorkersTable().update([{ id: 'w1-abc123.SECRETsecretSECRET', name: 'a', device: 'cpu', threads: 1, state: 'training', registeredAt: 1, lastSeen: 2 }], new Map());
    expect(rows.map((r) => r.id)).toEqual(['w1-abc123']);
    expect(JSON.stringify(rows)).not.toContain('SECRET');
  });

  it('keeps a worker that left as gone, with its tally, in registration order', () => {
    const table = new WorkersTable();
    const w = (id: string, registeredAt: number) => ({ id, name: id, device: 'cpu', threads: 2, state: 'training' as const, registeredAt, lastSeen: registeredAt + 5 });
    const tallies = new Map([
      ['w2', { microbatches: 7, evalTasks: 1, failures: 0 }],
      ['w1', { microbatches: 4, evalTasks: 0, failures: 2 }],
    ]);
    expect(table.update([w('w2', 20), w('w1', 10)], tallies).map((r) => [r.id, r.state, r.microbatches])).toEqual([
      ['w1', 'training', 4],
      ['w2', 'training', 7],
    ]);
    const rows = table.update([w('w2', 20)], new Map([...tallies, ['w1', { microbatches: 4, evalTasks: 0, failures: 3 }]]));
    expect(rows.map((r) => [r.id, r.state, r.failures, r.lastSeen])).toEqual([
      ['w1', 'gone', 3, 15],
      ['w2', 'training', 0, 25],
    ]);
  });
});

describe('scheduler tallies per worker', () => {
  const spec = (index: number, kind: 'train' | 'eval', leaves: number): TaskSpec => ({ runId: 0, phase: 'p', kind, step: 0, index, node: { level: 0, index }, k: 4, leaves: Array.from({ length: leaves }, () => ({})) }) as unknown as TaskSpec;

  const RESULT: TaskResult = { leaves: [], workerId: 'x', computeMs: 0 };

  it('counts accepted micro-batches and evaluation tasks, and every task that had to move', () => {
    const s = new Scheduler();
    let phases = 0;
    const owner: PhaseOwner = { id: 0, completePhase: () => (phases++ === 0 ? [spec(0, 'eval', 1)] : []) } as unknown as PhaseOwner;
    s.startPhase(owner, [spec(0, 'train', 2), spec(1, 'train', 3), spec(2, 'train', 1)], 0);
    const a = s.next('a', 0)!;
    const b = s.next('b', 0)!;
    s.submit('a', taskKey(a), RESULT, false, 1);
    // b hands its task back; a takes it and finishes it.
    s.handBack('b', taskKey(b));
    const again = s.next('a', 2)!;
    expect(again.index).toBe(b.index);
    s.submit('a', taskKey(again), RESULT, false, 3);
    // b's next task is lost with b.
    s.next('b', 4);
    s.workerLost('b');
    const last = s.next('a', 5)!;
    s.submit('a', taskKey(last), RESULT, false, 6);
    const ev = s.next('a', 7)!;
    expect(ev.kind).toBe('eval');
    s.submit('a', taskKey(ev), RESULT, false, 8);
    expect(Object.fromEntries(s.workerTallies)).toEqual({ a: { microbatches: 6, evalTasks: 1, failures: 0 }, b: { microbatches: 0, evalTasks: 0, failures: 2 } });
  });
});
