/**
 * Each run's parameters as this worker downloaded them, in shared memory that the compute thread
 * copies from (padded layout, params then buffers). A slot is pinned while a queued or running
 * task reads it, so that the next version, downloaded while the current task computes, goes into
 * another slot; a handful of slots per run are reused from version to version.
 */
import { layoutOffsets, layoutViews } from '../shared/kernels/index.js';

export interface WeightsSlot {
  runId: number;
  version: number;
  buffer: SharedArrayBuffer;
  /** One view per tensor (params, then buffers), for decoding chunks into. */
  views: Float32Array[];
  /** Whether the download finished (a slot being filled is not handed to a task). */
  ready: boolean;
  /** Tasks queued or running on it. */
  pins: number;
}

export class WeightsStore {
  private readonly slots: WeightsSlot[] = [];
  private readonly bytes: number;

  constructor(private readonly sizes: readonly number[]) {
    this.bytes = layoutOffsets(sizes).at(-1)! * 4;
  }

  /** The slot holding run `runId` at `version`, downloaded or on its way. */
  find(runId: number, version: number): WeightsSlot | undefined {
    return this.slots.find((s) => s.runId === runId && s.version === version);
  }

  /**
   * A slot to download `version` of run `runId` into: an unpinned one that is not its run's
   * newest version (tasks of that version may still come), or a new one.
   */
  acquire(runId: number, version: number): WeightsSlot {
    const newest = new Map<number, number>();
    for (const s of this.slots) if (s.ready && s.version >= 0) newest.set(s.runId, Math.max(newest.get(s.runId) ?? -1, s.version));
    const reusable = this.slots.filter((s) => s.pins === 0 && s.ready && (s.version < 0 || s.version !== newest.get(s.runId))).sort((a, b) => a.version - b.version)[0];
    const slot = reusable ?? this.create();
    slot.runId = runId;
    slot.version = version;
    slot.ready = false;
    return slot;
  }

  /** A download that failed: the slot holds nothing usable. */
  abandon(slot: WeightsSlot): void {
    slot.ready = true;
    slot.version = -1;
  }

  /** Forgets every version (after a re-registration: a restarted coordinator may reuse version numbers). */
  clear(): void {
    for (const s of this.slots) if (s.pins === 0) s.version = -1;
    this.slots.splice(0, this.slots.length, ...this.slots.filter((s) => s.pins > 0));
  }

  private create(): WeightsSlot {
    const buffer = new SharedArrayBuffer(this.bytes);
    const slot: WeightsSlot = { runId: -1, version: -1, buffer, views: layoutViews(buffer, this.sizes), ready: false, pins: 0 };
    this.slots.push(slot);
    return slot;
  }
}
