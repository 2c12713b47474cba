/**
 * The dispatcher's side of resuming, without sockets: runs restored from checkpoints start with
 * their resume phase, the phase each run is in is known (for the stop checkpoint), and a
 * coordinator that is stopped before the end hands out nothing more, ignores late results and
 * does not send its workers away.
 */
import { describe, expect, it } from 'vitest';
import { trainResultHeader } from '../helpers/result-header.js';
import { pino } from 'pino';
import { Dispatcher, type ClusterRun } from '../../coordinator/dispatch/dispatcher.js';
import { Scheduler } from '../../coordinator/dispatch/scheduler.js';
import { WorkerRegistry, type WorkerInfo } from '../../coordinator/dispatch/worker-registry.js';
import type { JobPackage } from '../../shared/cluster/job-wire.js';
import type { PhaseSpec, TaskSpec } from '../../coordinator/run/task.js';
import { Arena } from '../../shared/kernels/index.js';
import { type ResultHeader } from '../../shared/proto/gen/cluster.js';

/**
 * A run of `steps` steps of one micro-batch; its phases are `train:<version>`. It takes no
 * result vector (the dispatcher releases what a run does not take).
 */
class StepRun implements ClusterRun {
  version = 0;
  readonly pieceSizes = [1];
  constructor(
    readonly id: number,
    readonly name: string,
    private readonly steps: number,
  ) {}
  get done(): boolean {
    return this.version >= this.steps;
  }
  firstPhase(): PhaseSpec | null {
    return this.phase();
  }
  phase(): PhaseSpec {
    return { runId: this.id, name: `train:${this.version}`, kind: 'train', step: this.version, leaves: [{ indices: Uint32Array.of(0, 1), maskSeed: 0 }] };
  }
  taskDone(): void {}
  completePhase(): PhaseSpec | null {
    this.version++;
    return this.done ? null : this.phase();
  }
  currentParams() {
    return { version: this.version, params: [new Float32Array(1)], buffers: [] };
  }
}

const info: WorkerInfo = { name: 't', device: 'cpu', deviceDetail: 'cpu', threads: 1, version: 'test' };
const job = {
  metadata: { jobId: 'job-1', name: 'r', compression: 'none', threads: 1, chunkBytes: 1 << 20, microbatchesPerStep: 1, train: { params: [{ name: 'w', shape: [1], grad: 'grad:w', kind: 'weight' }], buffers: [] }, eval: {}, dataset: {} },
  trainModel: new Uint8Array(1),
  evalModel: new Uint8Array(1),
} as unknown as JobPackage;

function dispatcher(runs: ClusterRun[]) {
  return new Dispatcher({
    jobId: 'job-1',
    arena: Arena.growable(),
    job,
    data: { features: new Float32Array(2), labels: new Int32Array(2) },
    runs,
    scheduler: new Scheduler(),
    registry: new WorkerRegistry({ leaseMs: 1000, idPrefix: 't' }, 0),
    heartbeatMs: 100,
    maxWaitMs: 1000,
    waitWarningMs: 30_000,
    now: () => 0,
    log: pino({ level: 'silent' }),
  });
}

const header = (workerId: string, t: TaskSpec): ResultHeader => trainResultHeader(workerId, 'job-1', t);

async function task(d: Dispatcher, w: string): Promise<TaskSpec> {
  const r = await d.nextTask(w, 'job-1', 0, []);
  if (!('task' in r)) throw new Error(`expected a task, got ${JSON.stringify(r)}`);
  return r.task;
}

function submit(d: Dispatcher, w: string, t: TaskSpec) {
  const e = d.beginResult(header(w, t));
  return e.kind === 'late' ? { accepted: false, note: e.note } : d.completeResult(header(w, t), e);
}

describe('Dispatcher, resumed and stopped', () => {
  it('starts restored runs with their resume phase, the others with their first, a run restored as over with none, and follows the phase each run is in', async () => {
    const fresh = new StepRun(0, 'fresh', 3);
    const restored = new StepRun(1, 'restored', 3);
    restored.version = 2;
    const over = new StepRun(2, 'over', 3);
    over.version = 3;
    const d = dispatcher([fresh, restored, over]);
    d.start(new Map<number, PhaseSpec | null>([
      [1, restored.phase()],
      [2, null],
    ]));
    expect([d.activePhase(0), d.activePhase(1), d.activePhase(2)]).toEqual(['train:0', 'train:2', undefined]);
    const [a, b] = [d.register(info).workerId, d.register(info).workerId];
    const tasks = [await task(d, a), await task(d, b)];
    expect(tasks.map((t) => `${t.runId}:${t.phase}`).sort()).toEqual(['0:train:0', '1:train:2']);
    expect(submit(d, a, tasks[0]!).accepted).toBe(true);
    expect(submit(d, b, tasks[1]!).accepted).toBe(true);
    expect([d.activePhase(0), d.activePhase(1)]).toEqual(['train:1', undefined]);
  });

  it('once interrupted, hands out nothing, keeps its workers, and ignores results so the runs stay as checkpointed', async () => {
    const run = new StepRun(0, 'r', 5);
    const d = dispatcher([run]);
    d.start();
    const w = d.register(info).workerId;
    const t = await task(d, w);
    d.finish({ ok: false, reason: 'coordinator stopped before the job ended', interrupted: true });
    expect(await d.nextTask(w, 'job-1', 500, [])).toEqual({ retryAfterMs: 100 });
    expect(d.heartbeat(w, 'job-1')).toEqual({ known: true, drain: false, stop: '' });
    expect(submit(d, w, t)).toEqual({ accepted: false, note: expect.stringContaining('the job has ended') });
    expect(run.version).toBe(0);
    expect(await d.finished).toMatchObject({ interrupted: true });
  });
});
