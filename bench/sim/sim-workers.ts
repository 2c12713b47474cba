/**
 * Simulated workers: N real gRPC clients in one process, each the real worker loop (worker/loop.ts:
 * registration, task prefetch, parameter downloads, pre-opened result uploads, heartbeats) with a
 * compute that answers at once with a precomputed gradient (precomputed.ts). The bench's scale
 * section starts a coordinator and as few of these processes as it needs to stand in for 8 to
 * 128 workers.
 *
 *   node --import tsx bench/sim/sim-workers.ts --coordinator HOST:PORT --count N [--name PREFIX]
 *
 * Each simulated worker has its own channel (its own TCP connection), as separate machines would.
 * The process exits when every worker has stopped (the job ended), with the highest exit code.
 */
import { parseArgs } from 'node:util';
import { createLogger } from '../../shared/log.js';
import { Worker } from '../../worker/loop.js';
import { PRECOMPUTED } from './precomputed.js';

const { values } = parseArgs({ options: { coordinator: { type: 'string' }, count: { type: 'string' }, name: { type: 'string', default: 'sim' } } });
const count = Number(values.count);
if (!values.coordinator || !Number.isInteger(count) || count < 1) {
  console.error('usage: sim-workers.ts --coordinator HOST:PORT --count N [--name PREFIX]');
  process.exit(2);
}
const log = createLogger('sim-worker');
const workers = Array.from(
  { length: count },
  (_, i) => new Worker({ coordinator: values.coordinator!, device: 'cpu', name: `${values.name}-${i}`, log: log.child({ sim: i }), compute: PRECOMPUTED, unreachableMs: 60_000 }),
);
const codes = await Promise.all(workers.map((w) => w.run()));
process.exit(Math.max(...codes));
