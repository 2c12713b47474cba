/**
 * Many runs over one worker pool. The scheduler holds the tasks of every run's current phase,
 * hands them to workers (oldest run-phase first, round robin across runs so no run starves),
 * tracks which worker holds what, reassigns the tasks of workers that are lost, and accepts the
 * first result for a task key (later and duplicate results are ignored).
 *
 * Pure state plus a clock passed in: no sockets, no timers (the gRPC edge calls it).
 */
import { taskKey, type TaskResult, type TaskSpec } from '../run/task.js';

export interface PhaseOwner {
  readonly id: number;
  /** Called as each task's (first) result is accepted, before the phase completes. */
  taskDone?(phase: string, task: TaskSpec, result: TaskResult): void;
  /** Called once every task of the phase has a result; results are indexed by task index. Returns the next phase's tasks, or [] when the run is finished. */
  completePhase(phase: string, results: TaskResult[]): TaskSpec[];
}

interface TaskState {
  spec: TaskSpec;
  key: string;
  /** Workers computing it now (more than one for a straggler's backup), with start times. */
  holders: Map<string, number>;
  done: boolean;
  attempts: number;
  /** Non-finite results seen (from different workers); the second one is believed. */
  nonFinite: number;
}

interface PhaseState {
  owner: PhaseOwner;
  name: string;
  tasks: TaskState[];
  results: (TaskResult | undefined)[];
  remaining: number;
  startedAt: number;
  durations: number[];
}

export type SubmitOutcome = { accepted: true; phaseDone: boolean } | { accepted: false; note: string };

export class TaskRejected extends Error {
  override name = 'TaskRejected';
  constructor(
    readonly code: 'invalid' | 'not-assigned' | 'unknown-task',
    message: string,
  ) {
    super(message);
  }
}

export interface SchedulerOptions {
  /** A task held this many times longer than the phase's median duration gets a backup. */
  stragglerFactor: number;
  /** Minimum age before a backup is considered at all (ms). */
  stragglerMinMs: number;
}

/** Tasks that went back to the pool: their worker was lost, handed them back, or sent non-finite values (recomputed once). */
export interface TaskMoves {
  lost: number;
  handed_back: number;
  non_finite: number;
}

/** What one worker has done since the coordinator started (the dashboard's workers table). */
export interface WorkerTally {
  /** Training micro-batches in accepted results (a task may carry several). */
  microbatches: number;
  /** Evaluation tasks in accepted results. */
  evalTasks: number;
  /** Its tasks that went to another worker: lost with it, handed back, or non-finite. */
  failures: number;
}

export class Scheduler {
  private readonly phases = new Map<number, PhaseState>();
  private readonly byKey = new Map<string, { phase: PhaseState; task: TaskState }>();
  private readonly holding = new Map<string, Set<string>>();
  /** Median task duration of each run's last finished phase: the straggler yardstick while a new phase has none. */
  private readonly lastMedian = new Map<number, number>();
  private rr = 0;
  /** Tasks that went to another worker, by why (for /metrics). */
  private readonly moved: TaskMoves = { lost: 0, handed_back: 0, non_finite: 0 };
  private readonly tallies = new Map<string, WorkerTally>();

  constructor(private readonly opts: SchedulerOptions = { stragglerFactor: 4, stragglerMinMs: 2000 }) {}

  /** Installs a run's phase (replacing its previous, finished one). */
  startPhase(owner: PhaseOwner, tasks: TaskSpec[], now: number): void {
    const prev = this.phases.get(owner.id);
    if (prev) {
      for (const t of prev.tasks) this.byKey.delete(t.key);
      const m = medianOf(prev.durations);
      if (m !== undefined) this.lastMedian.set(owner.id, m);
    }
    if (tasks.length === 0) {
      this.phases.delete(owner.id);
      return;
    }
    const phase: PhaseState = {
      owner,
      name: tasks[0]!.phase,
      tasks: tasks.map((spec) => ({ spec, key: taskKey(spec), holders: new Map(), done: false, attempts: 0, nonFinite: 0 })),
      results: new Array(tasks.length).fill(undefined),
      remaining: tasks.length,
      startedAt: now,
      durations: [],
    };
    this.phases.set(owner.id, phase);
    for (const t of phase.tasks) this.byKey.set(t.key, { phase, task: t });
  }

  get activeRuns(): number {
    return this.phases.size;
  }

  /** The next task for a worker, or undefined when nothing is ready (all assigned or no runs). */
  next(workerId: string, now: number): TaskSpec | undefined {
    const phases = [...this.phases.values()];
    if (phases.length === 0) return undefined;
    // Round robin over runs; inside a run, the lowest pending index first.
    for (let k = 0; k < phases.length; k++) {
      const phase = phases[(this.rr + k) % phases.length]!;
      const task = phase.tasks.find((t) => !t.done && t.holders.size === 0);
      if (task) {
        this.rr = (this.rr + k + 1) % phases.length;
        return this.assign(task, workerId, now);
      }
    }
    // Nothing pending: back up a straggler, if one is far slower than its phase's median.
    for (const phase of phases) {
      // A one-task phase (a single validation shard) has no median of its own: use the run's last.
      const median = medianOf(phase.durations) ?? this.lastMedian.get(phase.owner.id);
      if (median === undefined) continue;
      for (const task of phase.tasks) {
        if (task.done || task.holders.has(workerId) || task.holders.size >= 2) continue;
        const oldest = Math.min(...task.holders.values());
        const age = now - oldest;
        if (age >= this.opts.stragglerMinMs && age > this.opts.stragglerFactor * median) return this.assign(task, workerId, now);
      }
    }
    return undefined;
  }

  private assign(task: TaskState, workerId: string, now: number): TaskSpec {
    task.holders.set(workerId, now);
    task.attempts++;
    let held = this.holding.get(workerId);
    if (!held) this.holding.set(workerId, (held = new Set()));
    held.add(task.key);
    return task.spec;
  }

  /** Whether a worker currently holds a task (the result it sends is expected). */
  holds(workerId: string, key: string): boolean {
    return this.byKey.get(key)?.task.holders.has(workerId) ?? false;
  }

  /**
   * Where a current task stands for a worker: it holds it, the task already has a result, or it
   * is another worker's (or nobody's); undefined when the key is not current. Reads only.
   */
  standing(workerId: string, key: string): 'held' | 'done' | 'not-held' | undefined {
    const entry = this.byKey.get(key);
    if (!entry) return undefined;
    if (entry.task.done) return 'done';
    return entry.task.holders.has(workerId) ? 'held' : 'not-held';
  }

  lookup(key: string): TaskSpec | undefined {
    return this.byKey.get(key)?.task.spec;
  }

  /**
   * A worker's result. The first result for a key wins; a result for a finished task or a
   * finished phase is ignored (accepted: false). `nonFinite` results are rejected once so that
   * another worker recomputes the task; a second non-finite result is believed (the model itself
   * diverged) and the run's step-skipping logic takes over.
   */
  submit(workerId: string, key: string, result: TaskResult, nonFinite: boolean, now: number): SubmitOutcome {
    const entry = this.byKey.get(key);
    if (!entry) return { accepted: false, note: `task ${key} is not current (late or duplicate result ignored)` };
    const { phase, task } = entry;
    if (task.done) {
      this.release(workerId, task);
      return { accepted: false, note: `task ${key} already has a result (duplicate ignored)` };
    }
    if (!task.holders.has(workerId)) throw new TaskRejected('not-assigned', `task ${key} is not assigned to worker ${workerId}`);
    if (nonFinite && task.nonFinite === 0) {
      task.nonFinite++;
      this.moved.non_finite++;
      this.tally(workerId).failures++;
      this.release(workerId, task);
      throw new TaskRejected('invalid', `result for task ${key} holds non-finite values; the task goes to another worker`);
    }
    const started = task.holders.get(workerId)!;
    const t = this.tally(workerId);
    if (task.spec.kind === 'train') t.microbatches += task.spec.leaves.length;
    else t.evalTasks++;
    for (const w of [...task.holders.keys()]) this.release(w, task);
    task.done = true;
    phase.results[task.spec.index] = result;
    phase.owner.taskDone?.(phase.name, task.spec, result);
    phase.durations.push(now - started);
    phase.remaining--;
    if (phase.remaining > 0) return { accepted: true, phaseDone: false };
    const next = phase.owner.completePhase(phase.name, phase.results as TaskResult[]);
    this.startPhase(phase.owner, next, now);
    return { accepted: true, phaseDone: true };
  }

  /** The worker gives a task back (draining, or it failed locally): someone else takes it. */
  handBack(workerId: string, key: string): void {
    const entry = this.byKey.get(key);
    if (entry && entry.task.holders.has(workerId) && !entry.task.done) {
      this.moved.handed_back++;
      this.tally(workerId).failures++;
    }
    if (entry) this.release(workerId, entry.task);
  }

  /** Tasks given to another worker since the start, by why. */
  get taskMoves(): Readonly<TaskMoves> {
    return this.moved;
  }

  /** Each worker's tally since the start, by worker id (workers that left included). */
  get workerTallies(): ReadonlyMap<string, Readonly<WorkerTally>> {
    return this.tallies;
  }

  private tally(workerId: string): WorkerTally {
    let t = this.tallies.get(workerId);
    if (!t) this.tallies.set(workerId, (t = { microbatches: 0, evalTasks: 0, failures: 0 }));
    return t;
  }

  /** A worker is gone (lease expired, left, killed): its tasks become pending again. */
  workerLost(workerId: string): string[] {
    const keys = [...(this.holding.get(workerId) ?? [])];
    for (const key of keys) {
      const entry = this.byKey.get(key);
      if (entry && !entry.task.done) {
        this.moved.lost++;
        this.tally(workerId).failures++;
      }
      if (entry) this.release(workerId, entry.task);
    }
    this.holding.delete(workerId);
    return keys;
  }

  private release(workerId: string, task: TaskState): void {
    task.holders.delete(workerId);
    this.holding.get(workerId)?.delete(task.key);
  }
}

function medianOf(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
