/**
 * The scheduler of a relay's own workers. A coordinator's job is over when no run has a phase
 * left (the Dispatcher ends it then and tells every worker to stop); a relay's runs have a phase
 * only while an upstream task is in hand, and between two tasks it has none although the upstream
 * job goes on. So the relay's scheduler counts its run as active at all times: the relay's local
 * job ends when the relay ends it (Dispatcher.finish, coordinator/relay/downstream-job.ts), never
 * because a phase was the last one for now.
 */
import { Scheduler } from '../dispatch/scheduler.js';

export class RelayScheduler extends Scheduler {
  /** At least one: the upstream job is running while the relay serves it, with a task in hand or not. */
  override get activeRuns(): number {
    return Math.max(1, super.activeRuns);
  }
}
