/**
 * The dashboard's workers table: every worker this coordinator has seen, with its state, the
 * work it has done and its failures. Folded from the registry (who is connected now) and the
 * scheduler's tallies; a worker that left or was lost stays in the table as 'gone', so a
 * kill -9 shows up as a row rather than as a row that vanished. Pure: the caller polls.
 */
import type { WorkerRecord, WorkerState } from '../dispatch/worker-registry.js';
import type { WorkerTally } from '../dispatch/scheduler.js';

export interface WorkerRow {
  /** The worker id without its secret part (the id after its '.' is a credential: dispatch/worker-registry.ts). */
  id: string;
  name: string;
  device: string;
  threads: number;
  state: WorkerState | 'gone';
  registeredAt: number;
  /** Its last call (a heartbeat or any other), ms since the epoch. */
  lastSeen: number;
  microbatches: number;
  evalTasks: number;
  failures: number;
}

type Connected = Pick<WorkerRecord, 'id' | 'name' | 'device' | 'threads' | 'state' | 'registeredAt' | 'lastSeen'>;

const NO_TALLY: WorkerTally = { microbatches: 0, evalTasks: 0, failures: 0 };

/** `w3-1a2b3c.<secret>` → `w3-1a2b3c`: the page and its event stream never carry a worker's credential. */
export function shownId(id: string): string {
  const dot = id.indexOf('.');
  return dot < 0 ? id : id.slice(0, dot);
}

export class WorkersTable {
  private readonly rows = new Map<string, WorkerRow>();

  /** The table after a look at the connected workers and the tallies; rows in registration order. */
  update(connected: readonly Connected[], tallies: ReadonlyMap<string, Readonly<WorkerTally>>): WorkerRow[] {
    const present = new Set<string>();
    for (const w of connected) {
      present.add(w.id);
      const t = tallies.get(w.id) ?? NO_TALLY;
      this.rows.set(w.id, { id: shownId(w.id), name: w.name, device: w.device, threads: w.threads, state: w.state, registeredAt: w.registeredAt, lastSeen: w.lastSeen, microbatches: t.microbatches, evalTasks: t.evalTasks, failures: t.failures });
    }
    for (const [id, row] of this.rows) {
      if (present.has(id)) continue;
      const t = tallies.get(id) ?? NO_TALLY;
      this.rows.set(id, { ...row, state: 'gone', microbatches: t.microbatches, evalTasks: t.evalTasks, failures: t.failures });
    }
    return [...this.rows.values()].sort((a, b) => a.registeredAt - b.registeredAt || a.id.localeCompare(b.id));
  }
}
