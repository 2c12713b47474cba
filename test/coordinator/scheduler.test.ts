/** The scheduler as a pure table: tasks in, assignments and outcomes out, a clock passed in. */
import { describe, it, expect } from 'vitest';
import { Scheduler, TaskRejected, type PhaseOwner } from '../../coordinator/dispatch/scheduler.js';
import { taskKey, type TaskResult, type TaskSpec } from '../../coordinator/run/task.js';
import { tasksOf } from '../../coordinator/dispatch/task-grouping.js';

/** A run of `phases` phases of `k` one-sample micro-batches, each its own task (a pool of k workers). */
function owner(id: number, phases: number, k: number): PhaseOwner & { completed: TaskResult[][]; done: string[]; first: () => TaskSpec[] } {
  let phase = 0;
  const make = (): TaskSpec[] =>
    phase >= phases ? [] : tasksOf({ runId: id, name: `train:${phase}`, kind: 'train', step: phase, leaves: Array.from({ length: k }, (_, j) => ({ indices: Uint32Array.of(j), maskSeed: 0 })) }, k);
  const o = {
    id,
    completed: [] as TaskResult[][],
    /** Tasks reported done (taskDone), as `phase/index`. */
    done: [] as string[],
    first: make,
    taskDone(name: string, task: TaskSpec) {
      o.done.push(`${name}/${task.index}`);
    },
    completePhase(_name: string, results: TaskResult[]) {
      o.completed.push(results);
      phase++;
      return make();
    },
  };
  return o;
}

const result = (workerId: string, loss: number): TaskResult => ({ leaves: [{ count: 1, loss, headLosses: [], headNormalizers: [], correct: undefined }], workerId, computeMs: 0 });

describe('Scheduler', () => {
  it('hands tasks out lowest index first, round robin across runs', () => {
    const s = new Scheduler();
    const a = owner(1, 1, 2);
    const b = owner(2, 1, 2);
    s.startPhase(a, a.first(), 0);
    s.startPhase(b, b.first(), 0);
    const got = ['w1', 'w2', 'w3', 'w4', 'w5'].map((w) => s.next(w, 0));
    expect(got.map((t) => t && `${t.runId}:${t.index}`)).toEqual(['1:0', '2:0', '1:1', '2:1', undefined]);
  });

  it('keeps results in index order whatever the arrival order, and the first result for a key wins', () => {
    const s = new Scheduler();
    const a = owner(1, 1, 3);
    s.startPhase(a, a.first(), 0);
    const t = [s.next('w1', 0)!, s.next('w2', 0)!, s.next('w3', 0)!];
    expect(s.submit('w3', taskKey(t[2]!), result('w3', 2), false, 1)).toEqual({ accepted: true, phaseDone: false });
    expect(s.submit('w1', taskKey(t[0]!), result('w1', 0), false, 2)).toEqual({ accepted: true, phaseDone: false });
    expect(s.submit('w2', taskKey(t[1]!), result('w2', 1), false, 3)).toEqual({ accepted: true, phaseDone: true });
    expect(a.completed[0]!.map((r) => r.leaves[0]!.loss)).toEqual([0, 1, 2]);
    expect(s.submit('w2', taskKey(t[1]!), result('w2', 9), false, 4)).toMatchObject({ accepted: false });
    expect(s.activeRuns).toBe(0);
  });

  it('tells the owner of each task’s first result as it is accepted, before the phase completes, and not of rejected or duplicate results', () => {
    const s = new Scheduler({ stragglerFactor: 1, stragglerMinMs: 0 });
    const a = owner(1, 1, 3);
    s.startPhase(a, a.first(), 0);
    const [t0, t1, t2] = [s.next('w1', 0)!, s.next('w2', 0)!, s.next('w3', 0)!];
    expect(() => s.submit('w2', taskKey(t1), result('w2', NaN), true, 1)).toThrow(TaskRejected);
    expect(a.done).toEqual([]);
    expect(s.next('w4', 1)).toMatchObject({ index: 1 });
    expect(s.submit('w1', taskKey(t0), result('w1', 0), false, 2)).toEqual({ accepted: true, phaseDone: false });
    expect(a.done).toEqual(['train:0/0']);
    expect(a.completed).toEqual([]);
    // w1 backs up w4 on task 1 and answers first; w4's result comes second and is ignored.
    expect(s.next('w1', 10)).toMatchObject({ index: 1 });
    expect(s.submit('w1', taskKey(t1), result('w1', 1), false, 11)).toEqual({ accepted: true, phaseDone: false });
    expect(s.submit('w4', taskKey(t1), result('w4', 9), false, 12)).toMatchObject({ accepted: false, note: expect.stringContaining('already has a result') });
    expect(a.done).toEqual(['train:0/0', 'train:0/1']);
    expect(s.submit('w3', taskKey(t2), result('w3', 2), false, 13)).toEqual({ accepted: true, phaseDone: true });
    expect(a.done).toEqual(['train:0/0', 'train:0/1', 'train:0/2']);
    expect(a.completed.map((rs) => rs.map((r) => r.leaves[0]!.loss))).toEqual([[0, 1, 2]]);
  });

  it('gives a lost worker’s tasks to the next worker that asks', () => {
    const s = new Scheduler();
    const a = owner(1, 1, 2);
    s.startPhase(a, a.first(), 0);
    const t0 = s.next('w1', 0)!;
    s.next('w2', 0);
    expect(s.next('w3', 0)).toBeUndefined();
    expect(s.workerLost('w1')).toEqual([taskKey(t0)]);
    expect(s.next('w3', 1)).toMatchObject({ index: 0 });
    expect(() => s.submit('w1', taskKey(t0), result('w1', 0), false, 2)).toThrow(TaskRejected);
  });

  it('rejects the first non-finite result of a task and believes the second', () => {
    const s = new Scheduler();
    const a = owner(1, 1, 1);
    s.startPhase(a, a.first(), 0);
    const t = s.next('w1', 0)!;
    expect(() => s.submit('w1', taskKey(t), result('w1', NaN), true, 1)).toThrow(/non-finite/);
    expect(s.next('w2', 2)).toMatchObject({ index: 0 });
    expect(s.submit('w2', taskKey(t), result('w2', NaN), true, 3)).toEqual({ accepted: true, phaseDone: true });
  });

  it('backs up a straggler once it is far slower than the median, using the last phase’s median for a one-task phase', () => {
    const s = new Scheduler({ stragglerFactor: 4, stragglerMinMs: 100 });
    const a = owner(1, 2, 2);
    s.startPhase(a, a.first(), 0);
    const t0 = s.next('w1', 0)!;
    const t1 = s.next('w2', 0)!;
    s.submit('w1', taskKey(t0), result('w1', 0), false, 50);
    expect(s.next('w1', 150)).toBeUndefined(); // 150 ms: not yet 4 × 50
    expect(s.next('w1', 250)).toMatchObject({ index: 1 }); // a backup of w2's task
    expect(s.submit('w1', taskKey(t1), result('w1', 1), false, 260)).toEqual({ accepted: true, phaseDone: true });
    // Phase 2 has tasks of its own; once both are held, a stalled one is backed up by the earlier median.
    const u0 = s.next('w1', 300)!;
    s.next('w2', 300);
    s.submit('w1', taskKey(u0), result('w1', 0), false, 320);
    expect(s.next('w1', 600)).toMatchObject({ index: 1 });
  });
  it('counts the tasks that went to another worker, by why: lost, handed back, non-finite', () => {
    const s = new Scheduler();
    const a = owner(1, 1, 5);
    s.startPhase(a, a.first(), 0);
    const [t0, t1, t2, t3] = [s.next('w1', 0)!, s.next('w1', 0)!, s.next('w2', 0)!, s.next('w3', 0)!];
    expect(s.taskMoves).toEqual({ lost: 0, handed_back: 0, non_finite: 0 });
    // w3 finishes before it is lost: only its unfinished tasks count.
    expect(s.submit('w3', taskKey(t3), result('w3', 3), false, 1)).toMatchObject({ accepted: true });
    expect(s.workerLost('w3')).toEqual([]);
    expect(s.workerLost('w1').sort()).toEqual([taskKey(t0), taskKey(t1)].sort());
    s.handBack('w2', taskKey(t2));
    // Handing back a task not held (any more) moves nothing.
    s.handBack('w2', taskKey(t2));
    const again = s.next('w4', 0)!;
    expect(() => s.submit('w4', taskKey(again), result('w4', 0), true, 2)).toThrow(TaskRejected);
    expect(s.taskMoves).toEqual({ lost: 2, handed_back: 1, non_finite: 1 });
  });
});
