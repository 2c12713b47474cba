/**
 * Each attack on the Coordinator RPCs by name, over a real grpc-js server (rpc-fixture.ts): the
 * status code and message it gets, and that the run's state (parameters, arena, scheduler, the
 * honest workers) did not move. docs/security-rpc.md's table is this list.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status as Status } from '@grpc/grpc-js';
import { encodeResultChunk } from '../../shared/cluster/tensor-wire.js';
import { TaskKind, type ResultChunk } from '../../shared/proto/gen/cluster.js';
import { MAX_WORKERS } from '../../coordinator/dispatch/worker-registry.js';
import { CHUNK_BYTES, FIRST_STEP, JOB_ID, gradientsFor, headerFor, rawCall, resultMessages, startFixture, submit, type Fixture, type Outcome } from './rpc-fixture.js';

let f: Fixture;
let attacker = '';
let before = '';

const unary = <Res>(fn: (cb: (e: { code: number; details: string } | null, r: Res) => void) => void): Promise<Outcome> =>
  new Promise((resolve) => fn((e, r) => resolve(e ? { ok: false, code: e.code, details: e.details } : { ok: true, reply: r })));

beforeAll(async () => {
  f = await startFixture();
  attacker = f.d.register({ name: 'attacker', device: 'cpu', deviceDetail: 'cpu', threads: 1, version: 'x' }).workerId;
  before = f.snapshot();
});
afterAll(() => f?.close());

function expectRefused(o: Outcome, code: Status, details: string | RegExp): void {
  expect(o.ok, JSON.stringify(o)).toBe(false);
  const r = o as { code: number; details: string };
  expect(Status[r.code]).toBe(Status[code]);
  if (typeof details === 'string') expect(r.details).toContain(details);
  else expect(r.details).toMatch(details);
  expect(f.snapshot()).toBe(before);
  expect(f.errors).toEqual([]);
}

const aResult = (over: Parameters<typeof headerFor>[2] = {}) => resultMessages(headerFor(f.a.id, f.a.task, over), gradientsFor(1));
const withChunk = (ms: ResultChunk[], i: number, edit: (c: NonNullable<ResultChunk['tensor']>) => NonNullable<ResultChunk['tensor']>) => ms.map((m, j) => (j === i ? { tensor: edit(m.tensor!) } : m));

describe('authority: only the holder of a task may report its result, for the current step', () => {
  it('gives workers ids that cannot be guessed from another worker’s', () => {
    expect(f.a.id).toMatch(/^w1-[0-9a-f]{6}\.[A-Za-z0-9_-]{16}$/);
    expect(f.b.id.split('.')[0]).toBe(`w2-${f.a.id.split('-')[1]!.split('.')[0]}`);
  });

  it('refuses a result under a guessed worker id (NOT_FOUND)', async () => {
    const guessed = f.a.id.split('.')[0]!;
    expectRefused(await submit(f.client, resultMessages(headerFor(guessed, f.a.task), gradientsFor(9))), Status.NOT_FOUND, `worker '${guessed}' is not registered`);
  });

  it('refuses Heartbeat, NextTask and GetParams under a guessed id, and Leave under one changes nothing', async () => {
    const guessed = f.a.id.split('.')[0]!;
    const hb = await unary((cb) => f.client.heartbeat({ workerId: guessed, jobId: JOB_ID }, cb));
    expect(hb).toEqual({ ok: true, reply: { known: false, drain: false, stop: '' } });
    expectRefused(await unary((cb) => f.client.nextTask({ workerId: guessed, jobId: JOB_ID, waitMs: 0, holding: [] }, cb)), Status.NOT_FOUND, 'is not registered');
    expect(await unary((cb) => f.client.leave({ workerId: guessed, reason: 'forged' }, cb))).toMatchObject({ ok: true });
    expect(f.snapshot()).toBe(before);
  });

  it('refuses a result for another worker’s task (FAILED_PRECONDITION), before reading its tensors', async () => {
    expectRefused(await submit(f.client, resultMessages(headerFor(attacker, f.a.task), gradientsFor(9))), Status.FAILED_PRECONDITION, `is not assigned to worker ${attacker}`);
  });

  it('refuses a result for a step other than the task’s (FAILED_PRECONDITION)', async () => {
    expectRefused(await submit(f.client, aResult({ step: FIRST_STEP + 1 })), Status.FAILED_PRECONDITION, `names step ${FIRST_STEP + 1}; the task is of step ${FIRST_STEP}`);
    expectRefused(await submit(f.client, aResult({ paramVersion: FIRST_STEP - 1 })), Status.FAILED_PRECONDITION, `computed on parameters version ${FIRST_STEP - 1}; the task needs version ${FIRST_STEP}`);
  });

  it('refuses a result for a step the run has not reached (FAILED_PRECONDITION)', async () => {
    expectRefused(await submit(f.client, aResult({ phase: `train:${FIRST_STEP + 5}`, step: FIRST_STEP + 5, paramVersion: FIRST_STEP + 5 })), Status.FAILED_PRECONDITION, 'has not reached it');
  });

  it('refuses a result for an unknown run (NOT_FOUND) or a phase that is no phase name (INVALID_ARGUMENT)', async () => {
    expectRefused(await submit(f.client, aResult({ runId: 7 })), Status.NOT_FOUND, 'run 7 does not exist');
    expectRefused(await submit(f.client, aResult({ phase: 'bogus' })), Status.INVALID_ARGUMENT, "'bogus' is not a phase name");
  });

  it('refuses a result of the wrong kind or leaves (INVALID_ARGUMENT)', async () => {
    expectRefused(await submit(f.client, aResult({ kind: TaskKind.EVAL })), Status.INVALID_ARGUMENT, 'says kind EVAL, the task is train');
    const h = headerFor(f.a.id, f.a.task);
    expectRefused(await submit(f.client, aResult({ leaves: h.leaves.slice(1) })), Status.INVALID_ARGUMENT, 'leaves; the task has');
  });

  it('refuses a result of another job (FAILED_PRECONDITION)', async () => {
    expectRefused(await submit(f.client, aResult({ jobId: 'other' })), Status.FAILED_PRECONDITION, "job 'other' is not the job");
  });

  it('answers a result for a past phase OK with accepted=false, reading no tensors', async () => {
    const o = await submit(f.client, aResult({ phase: `train:${FIRST_STEP - 1}`, step: FIRST_STEP - 1, paramVersion: FIRST_STEP - 1 }));
    expect(o).toEqual({ ok: true, reply: { accepted: false, note: expect.stringContaining('not current'), next: undefined } });
    expect(f.snapshot()).toBe(before);
  });
});

describe('result streams: tensor names, shapes, byte counts, order, codec, version', () => {
  it('refuses the wrong number of tensors (INVALID_ARGUMENT)', async () => {
    expectRefused(await submit(f.client, resultMessages(headerFor(f.a.id, f.a.task), gradientsFor(1).slice(0, 1))), Status.INVALID_ARGUMENT, 'carries 1 tensors, expected 2 (2 × gradient of parameter)');
  });

  it('refuses a tensor of the wrong shape (INVALID_ARGUMENT naming it)', async () => {
    const [w, b] = gradientsFor(1);
    expectRefused(await submit(f.client, resultMessages(headerFor(f.a.id, f.a.task), [w!, b!.subarray(1)])), Status.INVALID_ARGUMENT, "gradient of parameter 'b' (tensor 1) has 19 values, expected 20");
    expectRefused(await submit(f.client, resultMessages(headerFor(f.a.id, f.a.task), [w!.subarray(1), b!])), Status.INVALID_ARGUMENT, "gradient of parameter 'w' (tensor 0) has 299 values, expected 300");
  });

  it('refuses a chunk whose bytes do not match its count (INVALID_ARGUMENT)', async () => {
    expectRefused(await submit(f.client, withChunk(aResult(), 2, (c) => ({ ...c, data: c.data.subarray(0, c.data.length - 1) }))), Status.INVALID_ARGUMENT, 'needs 256 bytes, got 255');
  });

  it('refuses chunks out of order, repeated or overlapping (INVALID_ARGUMENT)', async () => {
    const ms = aResult();
    expectRefused(await submit(f.client, [ms[0]!, ms[2]!, ms[1]!, ...ms.slice(3)]), Status.INVALID_ARGUMENT, 'out of order');
    expectRefused(await submit(f.client, [...ms.slice(0, 3), ms[2]!, ...ms.slice(3)]), Status.INVALID_ARGUMENT, 'out of order');
    expectRefused(await submit(f.client, withChunk(ms, 2, (c) => ({ ...c, offset: c.offset - 1 }))), Status.INVALID_ARGUMENT, 'out of order');
  });

  it('refuses another codec or parameter version in a chunk (INVALID_ARGUMENT)', async () => {
    expectRefused(await submit(f.client, withChunk(aResult(), 1, (c) => ({ ...c, codec: 'fp16', data: c.data.subarray(0, c.data.length / 2) }))), Status.INVALID_ARGUMENT, "chunk in codec 'fp16', the job's is 'none'");
    expectRefused(await submit(f.client, withChunk(aResult(), 3, (c) => ({ ...c, version: FIRST_STEP + 1 }))), Status.INVALID_ARGUMENT, `chunk says parameters version ${FIRST_STEP + 1}, the task's is ${FIRST_STEP}`);
  });

  it('refuses a stream without its header, or with a second one (INVALID_ARGUMENT)', async () => {
    const ms = aResult();
    expectRefused(await submit(f.client, ms.slice(1)), Status.INVALID_ARGUMENT, 'must start with its header');
    expectRefused(await submit(f.client, [ms[0]!, ms[1]!, ms[0]!, ...ms.slice(2)]), Status.INVALID_ARGUMENT, 'one header, then tensor chunks only');
  });
});

describe('limits from the job', () => {
  it('refuses a stream with more chunks than the model’s tensors make (RESOURCE_EXHAUSTED), at the first one too many', async () => {
    const ms = aResult();
    const extra = { tensor: { ...ms[ms.length - 1]!.tensor! } };
    expectRefused(await submit(f.client, [...ms, extra, extra]), Status.RESOURCE_EXHAUSTED, 'more than 6 tensor chunks');
  });

  it('refuses a chunk that would carry more bytes than the whole result (RESOURCE_EXHAUSTED), before decoding it', async () => {
    expectRefused(await submit(f.client, withChunk(aResult(), 1, (c) => ({ ...c, data: Buffer.alloc(320 * 4 + 4) }))), Status.RESOURCE_EXHAUSTED, 'more than 1280 tensor bytes');
  });

  it('refuses a single message larger than a chunk plus header room (RESOURCE_EXHAUSTED), before buffering it', async () => {
    const big = encodeResultChunk({ tensor: { tensor: 0, offset: 0, count: 1, codec: 'none', scale: 0, data: Buffer.alloc(CHUNK_BYTES + (1 << 20) + 1), version: FIRST_STEP, tensorCount: 2 } });
    const header = encodeResultChunk({ header: headerFor(f.a.id, f.a.task) });
    expectRefused(await rawCall(f.raw, 'submitResult', [header, big]), Status.RESOURCE_EXHAUSTED, /larger than max/);
    expectRefused(await rawCall(f.raw, 'register', [Buffer.alloc(CHUNK_BYTES + (1 << 20) + 1)]), Status.RESOURCE_EXHAUSTED, /larger than max/);
  });

  it('refuses registration strings over 256 characters (INVALID_ARGUMENT)', async () => {
    expectRefused(await unary((cb) => f.client.register({ name: 'x'.repeat(257), device: 'cpu', deviceDetail: '', threads: 1, version: '' }, cb)), Status.INVALID_ARGUMENT, "registration field 'name' has 257 characters");
  });

  it('refuses registrations past the registry’s cap (RESOURCE_EXHAUSTED)', async () => {
    const live = f.registry.size;
    for (let i = live; i < MAX_WORKERS; i++) f.d.register({ name: 'flood', device: 'cpu', deviceDetail: '', threads: 1, version: '' });
    expectRefused(await unary((cb) => f.client.register({ name: 'one more', device: 'cpu', deviceDetail: '', threads: 1, version: '' }, cb)), Status.RESOURCE_EXHAUSTED, `the most this coordinator takes (${MAX_WORKERS})`);
  });
});

describe('duplicates', () => {
  it('accepts the holder’s result once, answers a duplicate OK with accepted=false without taking a vector', async () => {
    const first = await submit(f.client, aResult());
    expect(first).toMatchObject({ ok: true, reply: { accepted: true } });
    const used = f.arena.used;
    const params = f.run.params.map((p) => Float32Array.from(p));
    const dup = await submit(f.client, resultMessages(headerFor(f.a.id, f.a.task), gradientsFor(5)));
    expect(dup).toMatchObject({ ok: true, reply: { accepted: false, note: expect.stringContaining('already has a result (duplicate ignored)') } });
    expect(f.arena.used).toBe(used);
    expect(f.run.accepted).toBe(1);
    expect(f.run.params).toEqual(params);
  });
});
