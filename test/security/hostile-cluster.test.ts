/**
 * A real coordinator and two real workers train to completion while a hostile client (a
 * registered raw gRPC client: it got past TLS and the join token) floods the coordinator with
 * registrations, forged results under guessed worker ids, results for tasks it does not hold,
 * holder streams longer than the model and oversized messages. The final parameters are
 * bit-identical to an undisturbed run's, and every hostile result was refused or ignored.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { credentials, Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { CoordinatorClient } from '../../shared/cluster/service.js';
import { encodeTensorChunks } from '../../shared/cluster/tensor-stream.js';
import type { JobMetadata } from '../../shared/cluster/job-wire.js';
import { TaskKind, type ResultChunk, type ResultHeader, type Task } from '../../shared/proto/gen/cluster.js';
import { readFinalParams, runCluster, startCluster, tinyJob, type ClusterHandle } from '../cluster/harness.js';

const job = tinyJob({ name: 'hostile' });
let cluster: ClusterHandle | undefined;
afterAll(() => cluster?.kill());

type Outcome = { ok: true; reply: unknown } | { ok: false; code: number; details: string };
const opts = () => ({ deadline: Date.now() + 5_000 });
const done = (resolve: (o: Outcome) => void) => (e: ServiceError | null, r: unknown) => resolve(e ? { ok: false, code: e.code, details: e.details } : { ok: true, reply: r });

function submit(c: CoordinatorClient, ms: ResultChunk[]): Promise<Outcome> {
  return new Promise((resolve) => {
    const call = c.submitResult(new Metadata(), opts(), done(resolve));
    call.on('error', () => {});
    for (const m of ms) call.write(m);
    call.end();
  });
}

describe('a hostile client during a real two-worker run', () => {
  it('cannot change the final parameters', async () => {
    const undisturbed = await runCluster({ job, workers: 2 });
    expect(undisturbed.exitCode, undisturbed.coordinator.stderr).toBe(0);
    const expected = readFinalParams(undisturbed.runDir)[0]!.sha256;

    cluster = await startCluster({ job, workers: 0 });
    const c = new CoordinatorClient(cluster.address, credentials.createInsecure());
    const reg = (name: string) => new Promise<Outcome>((resolve) => c.register({ name, device: 'cpu', deviceDetail: 'cpu', threads: 1, version: 'x' }, new Metadata(), opts(), done(resolve)));
    const me = (await reg('hostile')) as { ok: true; reply: { workerId: string; jobId: string } };
    const { workerId, jobId } = me.reply;
    const prefix = workerId.split('-')[1]!.split('.')[0]!;
    const meta = await new Promise<JobMetadata>((resolve, reject) => {
      const s = c.getJob({ workerId, jobId }, opts());
      s.once('data', (m: { metadataJson: string }) => {
        resolve(JSON.parse(m.metadataJson) as JobMetadata);
        s.cancel();
      });
      s.on('error', (e: ServiceError) => e.code !== Status.CANCELLED && reject(e));
    });
    const grads = meta.train.params.map((p) => new Float32Array(p.shape.reduce((a, d) => a * d, 1)).fill(1e3));
    const header = (w: string, step: number, mb: number, leaves: number[] = [16]): ResultHeader => ({
      workerId: w,
      jobId,
      runId: 0,
      step,
      microbatch: mb,
      kind: TaskKind.TRAIN,
      paramVersion: step,
      leaves: leaves.map((count) => ({ count, loss: 0, headLosses: [0], headNormalizers: [], correct: 0, hasCorrect: false, attacks: [] })),
      computeMs: 1,
      codec: 'none',
      phase: `train:${step}`,
      wantNext: false,
    });
    const result = (h: ResultHeader): ResultChunk[] => [{ header: h }, ...encodeTensorChunks(grads, { version: h.paramVersion }).map((tensor) => ({ tensor }))];
    const outcomes = new Map<string, number>();
    const note = (what: string, o: Outcome) => {
      const k = `${what}: ${o.ok ? ((o.reply as { accepted?: boolean }).accepted ? 'ACCEPTED' : 'OK') : Status[o.code]}`;
      outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
    };

    let exited = false;
    const finished = cluster.wait(120_000).finally(() => (exited = true));
    cluster.addWorker();
    cluster.addWorker();
    let holderAttacks = 0;
    for (let round = 0; !exited; round++) {
      const calls: Promise<void>[] = [];
      // A registration flood.
      for (let i = 0; i < 10; i++) calls.push(reg(`flood-${round}-${i}`).then((o) => note('register', o)));
      // Forged results under guessed ids, and under its own id, for every task key of the first steps.
      for (let step = 0; step < 16; step += 1 + (round % 3)) {
        for (let mb = 0; mb < 4; mb++) {
          calls.push(submit(c, result(header(`w${1 + ((round + mb) % 3)}-${prefix}`, step, mb))).then((o) => note('forged id', o)));
          calls.push(submit(c, result(header(workerId, step, mb, [16, 16]))).then((o) => note('not its task', o)));
        }
      }
      // An oversized message (over chunk size + header room).
      calls.push(submit(c, [{ tensor: { tensor: 0, offset: 0, count: 1, codec: 'none', scale: 0, data: Buffer.alloc(3 << 20), version: 0, tensorCount: 1 } }]).then((o) => note('oversized message', o)));
      await Promise.all(calls);
      // A few times: take a task as a worker would, send a stream longer than the model, then leave.
      if (holderAttacks < 3 && round % 2 === 0) {
        const h = (await reg('holder')) as { ok: true; reply: { workerId: string } };
        const t = await new Promise<Outcome>((resolve) => c.nextTask({ workerId: h.reply.workerId, jobId, waitMs: 1000, holding: [] }, new Metadata(), opts(), done(resolve)));
        const task = t.ok ? (t.reply as { task?: Task }).task : undefined;
        if (task) {
          holderAttacks++;
          const hh = { ...header(h.reply.workerId, task.step, task.microbatch, task.leafSizes), phase: task.phase, kind: task.kind };
          const ms = result(hh);
          note('holder: stream longer than the model', await submit(c, [...ms, ms[ms.length - 1]!, ms[ms.length - 1]!]));
          note('holder: chunks out of order', await submit(c, [ms[0]!, ...ms.slice(1).reverse()]));
        }
        await new Promise<Outcome>((resolve) => c.leave({ workerId: h.reply.workerId, reason: 'hostile' }, new Metadata(), opts(), done(resolve)));
      }
    }
    const r = await finished;
    c.close();
    console.log(`hostile client: ${JSON.stringify(Object.fromEntries([...outcomes].sort()))}`);
    expect(r.exitCode, cluster.output()).toBe(0);
    expect(readFinalParams(r.runDir)[0]!.sha256).toBe(expected);
    const keys = [...outcomes.keys()];
    expect(keys.filter((k) => k.endsWith('ACCEPTED'))).toEqual([]);
    // (UNAVAILABLE: calls of the last round, after the coordinator exited.)
    expect(keys.filter((k) => k.startsWith('forged id') && !/(NOT_FOUND|UNAVAILABLE)$/.test(k))).toEqual([]);
    expect(keys.filter((k) => k.startsWith('oversized') && !/(RESOURCE_EXHAUSTED|UNAVAILABLE)$/.test(k))).toEqual([]);
    expect(outcomes.get('oversized message: RESOURCE_EXHAUSTED')).toBeGreaterThan(0);
    expect(holderAttacks).toBeGreaterThan(0);
    expect(outcomes.get('holder: stream longer than the model: RESOURCE_EXHAUSTED')).toBe(holderAttacks);
  }, 180_000);
});
