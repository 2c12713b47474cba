/**
 * Property-based fuzzing (fast-check) of every Coordinator RPC through a real grpc-js server on
 * loopback (test/security/rpc-fixture.ts): random bytes, truncated and mutated valid messages,
 * structurally broken result streams from the worker that holds the task, and semantically wrong
 * requests from a registered client that holds nothing. Every call must end with a status (no
 * crash, no hang: each call has a 5 s deadline), no handler may fail with INTERNAL, and the run's
 * observable state (parameters, arena, scheduler, honest workers) must be as before. At the end
 * the honest workers finish the step and the parameters equal those of an undisturbed fixture.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { status as Status } from '@grpc/grpc-js';
import { CoordinatorService } from '../../shared/cluster/service.js';
import { encodeResultChunk } from '../../shared/cluster/tensor-wire.js';
import { DataRequest, HeartbeatRequest, JobRequest, LeaveRequest, ParamsRequest, RegisterRequest, TaskKind, TaskRequest, type ResultChunk, type ResultHeader, type TensorChunk } from '../../shared/proto/gen/cluster.js';
import { FIRST_STEP, JOB_ID, LENGTHS, gradientsFor, headerFor, rawCall, resultMessages, startFixture, submit, type Fixture, type Outcome } from './rpc-fixture.js';

type Method = keyof typeof CoordinatorService;
const METHODS = Object.keys(CoordinatorService) as Method[];
/** Seeded, so a failure reproduces; fast-check prints the counterexample. */
const SEED = 20_260_512;

let f: Fixture;
let attacker = '';
let before = '';
const counts = { cases: 0, codes: new Map<string, number>() };

/** The attacker is a registered client (it passed TLS and the join token) that holds no task. */
async function ensureAttacker(): Promise<void> {
  if (attacker && f.registry.get(attacker)) return;
  attacker = f.d.register({ name: 'attacker', device: 'cpu', deviceDetail: 'cpu', threads: 1, version: 'x' }).workerId;
}

function tally(o: Outcome): void {
  counts.cases++;
  const k = o.ok ? 'OK' : Status[o.code]!;
  counts.codes.set(k, (counts.codes.get(k) ?? 0) + 1);
}

/** The state must not have moved, and no handler may have failed inside. */
function unchanged(o: Outcome): void {
  tally(o);
  expect(f.snapshot()).toBe(before);
  // INTERNAL only from grpc-js for bytes that do not decode as the method's message.
  if (!o.ok && (o.code === Status.INTERNAL || o.code === Status.UNKNOWN)) expect(o.details).toMatch(/^Error deserializing request/);
  expect(f.errors, 'a handler logged an internal failure').toEqual([]);
}

/** Valid request bytes of each method, from the attacker. */
function validMessages(method: Method): Uint8Array[] {
  const w = attacker;
  switch (method) {
    case 'register':
      return [RegisterRequest.encode({ name: 'attacker', device: 'cpu', threads: 1, version: 'x', deviceDetail: 'cpu' }).finish()];
    case 'getJob':
      return [JobRequest.encode({ workerId: w, jobId: JOB_ID }).finish()];
    case 'getData':
      return [DataRequest.encode({ workerId: w, jobId: JOB_ID, part: 'labels' }).finish()];
    case 'getParams':
      return [ParamsRequest.encode({ workerId: w, jobId: JOB_ID, runId: 0, version: FIRST_STEP, codec: 'none', waitMs: 0 }).finish()];
    case 'nextTask':
      return [TaskRequest.encode({ workerId: w, jobId: JOB_ID, waitMs: 0, holding: [{ runId: 0, phase: f.a.task.phase, microbatch: f.a.task.index }] }).finish()];
    case 'submitResult':
      return resultMessages(headerFor(w, f.a.task), gradientsFor(1)).map(encodeResultChunk);
    case 'heartbeat':
      return [HeartbeatRequest.encode({ workerId: w, jobId: JOB_ID }).finish()];
    case 'leave':
      return [LeaveRequest.encode({ workerId: `w1-${w.split('-')[1]!.split('.')[0]}`, reason: 'guess' }).finish()];
  }
}

beforeAll(async () => {
  f = await startFixture();
  await ensureAttacker();
  before = f.snapshot();
});

afterAll(() => {
  f?.close();
  // The tally, for docs/security-rpc.md.
  console.log(`rpc fuzz: ${counts.cases} calls; statuses ${JSON.stringify(Object.fromEntries(counts.codes))}`);
});

describe('fuzzing every RPC over gRPC', () => {
  it('answers random bytes, as any method and any number of stream messages, with a status and no change to the run', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...METHODS), fc.array(fc.uint8Array({ maxLength: 400 }), { minLength: 1, maxLength: 4 }), async (method, messages) => {
        await ensureAttacker();
        unchanged(await rawCall(f.raw, method, messages));
      }),
      { numRuns: 2000, seed: SEED },
    );
  });

  it('answers truncated, bit-flipped, spliced and repeated valid messages with a status and no change to the run', async () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(), msg: fc.nat() }),
      fc.record({ kind: fc.constant('flip' as const), at: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), bit: fc.integer({ min: 0, max: 7 }), msg: fc.nat() }),
      fc.record({ kind: fc.constant('splice' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }), msg: fc.nat() }),
      fc.record({ kind: fc.constant('repeat' as const), msg: fc.nat(), times: fc.integer({ min: 2, max: 12 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...METHODS), mutation, async (method, m) => {
        await ensureAttacker();
        const messages = validMessages(method).map((b) => Uint8Array.from(b));
        const i = m.msg % messages.length;
        const target = messages[i]!;
        if (m.kind === 'truncate') {
          messages[i] = target.subarray(0, m.at % Math.max(1, target.length));
        } else if (m.kind === 'flip') {
          for (const at of m.at) if (target.length > 0) target[at % target.length]! ^= 1 << m.bit;
        } else if (m.kind === 'splice') {
          const at = m.at % (target.length + 1);
          messages[i] = Uint8Array.from([...target.subarray(0, at), ...m.bytes, ...target.subarray(at)]);
        } else {
          messages.splice(i, 0, ...Array.from({ length: m.times - 1 }, () => target));
        }
        unchanged(await rawCall(f.raw, method, messages));
      }),
      { numRuns: 2000, seed: SEED },
    );
  });

  it('rejects every structurally broken result stream of the worker that holds the task, before it touches the run', async () => {
    const valid = () => resultMessages(headerFor(f.a.id, f.a.task), gradientsFor(1));
    const chunkOf = (ms: ResultChunk[], n: number) => 1 + (n % (ms.length - 1));
    const edits = fc.oneof(
      fc.record({ kind: fc.constant('drop' as const), n: fc.nat() }),
      fc.record({ kind: fc.constant('duplicate' as const), n: fc.nat() }),
      fc.record({ kind: fc.constant('swap' as const), n: fc.nat(), k: fc.integer({ min: 1, max: 5 }) }),
      fc.record({ kind: fc.constant('cut' as const), n: fc.nat() }),
      fc.record({ kind: fc.constant('extra' as const), n: fc.nat(), times: fc.integer({ min: 1, max: 50 }) }),
      fc.record({ kind: fc.constant('headerAgain' as const), n: fc.nat() }),
      fc.record({
        kind: fc.constant('field' as const),
        n: fc.nat(),
        field: fc.constantFrom('tensor', 'offset', 'count', 'codec', 'version', 'tensorCount', 'data'),
        value: fc.integer({ min: -3, max: 400 }),
        codec: fc.constantFrom('fp16', 'int8', 'bogus', 'NONE'),
      }),
    );
    await fc.assert(
      fc.asyncProperty(edits, async (e) => {
        const ms = valid();
        const i = chunkOf(ms, e.n);
        const c = ms[i]!.tensor!;
        switch (e.kind) {
          case 'drop':
            ms.splice(i, 1);
            break;
          case 'duplicate':
            ms.splice(i, 0, { tensor: { ...c } });
            break;
          case 'swap': {
            const j = chunkOf(ms, e.n + e.k);
            if (j === i) ms.splice(i, 1);
            else [ms[i], ms[j]] = [ms[j]!, ms[i]!];
            break;
          }
          case 'cut':
            ms.splice(i);
            break;
          case 'extra':
            for (let t = 0; t < e.times; t++) ms.push({ tensor: { ...ms[ms.length - 1]!.tensor! } });
            break;
          case 'headerAgain':
            ms.splice(i, 0, { header: ms[0]!.header });
            break;
          case 'field': {
            const v = e.value;
            const changed: TensorChunk = { ...c };
            if (e.field === 'tensor') changed.tensor = v === c.tensor ? v + 1 : v;
            else if (e.field === 'offset') changed.offset = Math.abs(v) === c.offset ? c.offset + 1 : Math.abs(v);
            else if (e.field === 'count') changed.count = Math.abs(v) === c.count ? c.count + 1 : Math.abs(v);
            else if (e.field === 'codec') changed.codec = e.codec;
            else if (e.field === 'version') changed.version = v === c.version ? v + 1 : v;
            else if (e.field === 'tensorCount') changed.tensorCount = v === c.tensorCount ? v + 1 : Math.abs(v);
            else changed.data = v % 2 === 0 ? c.data.subarray(0, Math.max(0, c.data.length - 1 - (Math.abs(v) % c.data.length))) : Buffer.concat([c.data, Buffer.alloc(1 + (Math.abs(v) % 64))]);
            ms[i] = { tensor: changed };
            break;
          }
        }
        const o = await submit(f.client, ms);
        expect(o.ok, `accepted a broken stream (${JSON.stringify(e)})`).toBe(false);
        expect([Status.INVALID_ARGUMENT, Status.RESOURCE_EXHAUSTED]).toContain((o as { code: number }).code);
        unchanged(o);
      }),
      { numRuns: 1000, seed: SEED },
    );
  });

  it('refuses semantically wrong results and requests from a client that holds no task, or answers them as late, without any change', async () => {
    const prefix = f.a.id.split('-')[1]!.split('.')[0]!;
    const header = fc.record({
      workerId: fc.constantFrom('attacker', `w1-${prefix}`, `w2-${prefix}`, `w3-${prefix}`, '', 'w1', f.a.id.slice(0, -1)),
      jobId: fc.constantFrom(JOB_ID, '', 'other-job'),
      runId: fc.constantFrom(0, 1, -1, 2 ** 31 - 1),
      step: fc.constantFrom(FIRST_STEP, FIRST_STEP - 1, FIRST_STEP + 1, 0, -5, 2 ** 40),
      paramVersion: fc.constantFrom(FIRST_STEP, FIRST_STEP - 1, FIRST_STEP + 1, 2 ** 40),
      microbatch: fc.constantFrom(0, 1, 2, -1, 99),
      kind: fc.constantFrom(TaskKind.TRAIN, TaskKind.EVAL, TaskKind.TASK_KIND_UNSPECIFIED, 7 as TaskKind),
      phase: fc.constantFrom(`train:${FIRST_STEP}`, `train:${FIRST_STEP - 1}`, `train:${FIRST_STEP + 1}`, 'eval:validation:3:3', '', 'bogus', 'train:'),
      leaves: fc.constantFrom(0, 1, 2, 3),
      tensors: fc.constantFrom('full', 'none', 'short', 'long', 'one'),
    });
    await fc.assert(
      fc.asyncProperty(header, async (h) => {
        await ensureAttacker();
        const workerId = h.workerId === 'attacker' ? attacker : h.workerId;
        const base = headerFor(workerId, f.a.task);
        const hdr: ResultHeader = { ...base, jobId: h.jobId, runId: h.runId, step: h.step, paramVersion: h.paramVersion, microbatch: h.microbatch, kind: h.kind, phase: h.phase, leaves: Array.from({ length: h.leaves }, () => base.leaves[0]!) };
        const g = gradientsFor(2);
        const tensors = h.tensors === 'full' ? g : h.tensors === 'none' ? [] : h.tensors === 'one' ? g.slice(0, 1) : h.tensors === 'short' ? [g[0]!.subarray(1), g[1]!] : [g[0]!, new Float32Array(LENGTHS[1] + 1)];
        const o = await submit(f.client, resultMessages(hdr, tensors, hdr.paramVersion));
        if (o.ok) expect((o.reply as { accepted: boolean }).accepted).toBe(false);
        unchanged(o);
      }),
      { numRuns: 1000, seed: SEED },
    );
  });

  it('leaves the step to the honest workers: their results are accepted and the parameters equal an undisturbed run’s', async () => {
    const control = await startFixture();
    try {
      for (const x of [f, control]) {
        for (const [w, v] of [
          [x.a, 1],
          [x.b, 2],
        ] as const) {
          const o = await submit(x.client, resultMessages(headerFor(w.id, w.task), gradientsFor(v)));
          expect(o).toMatchObject({ ok: true, reply: { accepted: true } });
        }
      }
      expect(f.run.version).toBe(FIRST_STEP + 1);
      expect(f.run.params.map((p) => Array.from(p))).toEqual(control.run.params.map((p) => Array.from(p)));
      expect(f.run.params[0]![0]).not.toBe(0);
    } finally {
      control.close();
    }
  });
});
