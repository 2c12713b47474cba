/**
 * How the dispatcher turns a phase into tasks (coordinator/dispatch/task-grouping.ts): the nodes
 * of one level of the phase's reduction tree, the coarsest level that gives every worker a task;
 * the leaves are split in order, eval phases are grouped like train phases, and an empty phase
 * has no task.
 */
import { describe, expect, it } from 'vitest';
import { tasksOf } from '../../coordinator/dispatch/task-grouping.js';
import type { PhaseSpec } from '../../coordinator/run/task.js';
import { nodeRange, rootLevel } from '../../shared/reduction/index.js';

/** A phase of `k` leaves; leaf j holds samples 10j … 10j + j (sizes differ, so a misplaced leaf shows). */
function phase(k: number, over: Partial<PhaseSpec> = {}): PhaseSpec {
  return {
    runId: 3,
    name: 'train:7',
    kind: 'train',
    step: 5,
    leaves: Array.from({ length: k }, (_, j) => ({ indices: Uint32Array.from({ length: j + 1 }, (_, i) => 10 * j + i), maskSeed: 1000 + j })),
    ...over,
  };
}

describe('tasksOf', () => {
  it('gives one worker the whole step as one task: the root of the tree, every leaf', () => {
    const p = phase(6);
    const tasks = tasksOf(p, 1);
    expect(tasks).toHaveLength(1);
    expect(tasks[0]).toEqual({ runId: 3, phase: 'train:7', kind: 'train', step: 5, index: 0, node: { level: rootLevel(6), index: 0 }, k: 6, leaves: p.leaves });
  });

  it('picks the coarsest level that still gives every worker a task, and single leaves when workers outnumber them', () => {
    const levels = (k: number, workers: number) => tasksOf(phase(k), workers).map((t) => `${t.node.level}:${t.node.index}`);
    expect(levels(8, 1)).toEqual(['3:0']);
    expect(levels(8, 2)).toEqual(['2:0', '2:1']);
    expect(levels(8, 3)).toEqual(['1:0', '1:1', '1:2', '1:3']);
    expect(levels(8, 4)).toEqual(['1:0', '1:1', '1:2', '1:3']);
    expect(levels(8, 5)).toEqual(['0:0', '0:1', '0:2', '0:3', '0:4', '0:5', '0:6', '0:7']);
    expect(levels(8, 50)).toHaveLength(8);
    // A step whose leaf count is not a power of two: the last node is short.
    expect(levels(5, 2)).toEqual(['2:0', '2:1']);
    expect(tasksOf(phase(5), 2).map((t) => t.leaves.length)).toEqual([4, 1]);
  });

  it('makes one task (the whole phase) while the pool is empty', () => {
    expect(tasksOf(phase(4), 0)).toEqual(tasksOf(phase(4), 1));
  });

  it('splits the leaves in order: each task holds exactly its node’s leaves, and together they are the phase’s, once each', () => {
    const problems: string[] = [];
    for (let k = 1; k <= 40; k++) {
      const p = phase(k);
      for (let workers = 1; workers <= 45; workers++) {
        const at = `k=${k} workers=${workers}`;
        const tasks = tasksOf(p, workers);
        const want = Math.min(workers, k);
        if (tasks.length < want) problems.push(`${at}: ${tasks.length} tasks`);
        // The coarsest such level: one level up would leave a worker without a task.
        const level = tasks[0]!.node.level;
        if (level < rootLevel(k) && Math.ceil(k / 2 ** (level + 1)) >= want) problems.push(`${at}: level ${level} is not the coarsest`);
        tasks.forEach((t, index) => {
          const { begin, end } = nodeRange(t.node, k);
          if (t.index !== index || t.node.level !== level || t.node.index !== index || t.k !== k) problems.push(`${at}: task ${index} is ${JSON.stringify({ index: t.index, node: t.node, k: t.k })}`);
          if (t.leaves.length !== end - begin || t.leaves.some((leaf, j) => leaf !== p.leaves[begin + j])) problems.push(`${at}: task ${index} does not hold leaves ${begin}..${end - 1}`);
        });
        const all = tasks.flatMap((t) => t.leaves);
        if (all.length !== k || all.some((leaf, j) => leaf !== p.leaves[j])) problems.push(`${at}: the tasks' leaves are not the phase's, in order`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('groups evaluation phases too, keeping the split', () => {
    const p = phase(7, { name: 'eval:validation:4:4', kind: 'eval', split: 'validation' });
    const tasks = tasksOf(p, 3);
    expect(tasks.map((t) => t.leaves.length)).toEqual([2, 2, 2, 1]);
    for (const t of tasks) expect(t).toMatchObject({ phase: 'eval:validation:4:4', kind: 'eval', split: 'validation', k: 7 });
    expect(tasksOf(p, 1)).toHaveLength(1);
    // A train phase has no split at all (not even an undefined one on the wire's side).
    expect(Object.keys(tasksOf(phase(3), 1)[0]!)).not.toContain('split');
  });

  it('gives no task for a phase without leaves', () => {
    expect(tasksOf(phase(0), 1)).toEqual([]);
    expect(tasksOf(phase(0, { kind: 'eval', split: 'test' }), 4)).toEqual([]);
  });
});
