/**
 * The join token: how a call's metadata is judged, how the token is read, and a local cluster
 * (`coordinator start --local-workers 2`) that authenticates its own workers with a random token
 * while refusing everyone else.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { credentials, Metadata, status as Status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { loadJoinToken, peerHost, tokenProblem } from '../../shared/security/join-token.js';
import { startCluster, tinyJob } from '../cluster/harness.js';
import { bearer, healthStatus, nextTask, register } from './grpc-clients.js';

const TOKEN = '0123456789abcdef0123456789abcdef';
const expected = createHash('sha256').update(TOKEN).digest();

describe('judging a call by its join token', () => {
  it('lets the right bearer token through', () => {
    expect(tokenProblem(expected, bearer(TOKEN))).toBeUndefined();
  });

  it('names what is wrong without repeating what was sent', () => {
    expect(tokenProblem(expected, new Metadata())).toMatch(/^missing join token/);
    expect(tokenProblem(expected, bearer(`${TOKEN}0`))).toBe('wrong join token');
    expect(tokenProblem(expected, bearer(TOKEN.slice(1)))).toBe('wrong join token');
    const basic = new Metadata();
    basic.set('authorization', `Basic ${TOKEN}`);
    expect(tokenProblem(expected, basic)).toBe("malformed 'authorization' metadata: expected 'Bearer <token>'");
    const twice = bearer(TOKEN);
    twice.add('authorization', 'Bearer other');
    expect(tokenProblem(expected, twice)).toMatch(/more than one/);
  });

  it('logs peers by address, not by port', () => {
    expect(peerHost('127.0.0.1:51234')).toBe('127.0.0.1');
    expect(peerHost('[::1]:7070')).toBe('[::1]');
  });
});

describe('reading the join token', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gradfleet-token-'));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('prefers --token-file to $GRADFLEET_JOIN_TOKEN and drops the final newline', () => {
    expect(loadJoinToken({ file: file('ok', `${TOKEN}\n`), env: { GRADFLEET_JOIN_TOKEN: 'x'.repeat(20) } })).toBe(TOKEN);
    expect(loadJoinToken({ env: { GRADFLEET_JOIN_TOKEN: TOKEN } })).toBe(TOKEN);
    expect(loadJoinToken({ env: {} })).toBeUndefined();
  });

  it('refuses an unreadable, empty or short token, naming the flag and file', () => {
    const missing = join(dir, 'nope');
    expect(() => loadJoinToken({ file: missing, env: {} })).toThrow(`--token-file ${missing}: cannot read the file (ENOENT)`);
    const empty = file('empty', '\n');
    expect(() => loadJoinToken({ file: empty, env: {} })).toThrow(`--token-file ${empty}: the join token is empty`);
    expect(() => loadJoinToken({ env: { GRADFLEET_JOIN_TOKEN: 'short' } })).toThrow(/^\$GRADFLEET_JOIN_TOKEN: the join token has 5 characters; at least 16/);
  });
});

describe('a local cluster (coordinator start --local-workers 2)', () => {
  it('authenticates its own workers with a random token and refuses a caller without it', async () => {
    const cluster = await startCluster({ job: tinyJob({ name: 'local-token', epochs: 1 }), workers: 0, env: { GRADFLEET_LOG_LEVEL: 'info' }, coordinatorArgs: ['--local-workers', '2'] });
    try {
      const refused = await register(cluster.address, credentials.createInsecure());
      expect(refused).toMatchObject({ ok: false, code: Status.UNAUTHENTICATED, details: expect.stringMatching(/^missing join token/) });
      const guessed = await register(cluster.address, credentials.createInsecure(), bearer(TOKEN));
      expect(guessed).toMatchObject({ ok: false, code: Status.UNAUTHENTICATED, details: 'wrong join token' });
      expect(await healthStatus(cluster.address, credentials.createInsecure(), '')).toBe('SERVING');
      // The training loop's calls carry no token: only a worker id Register issued opens them.
      const jobId = /\(job (\S+),/.exec(cluster.output())?.[1] ?? '';
      expect(jobId).not.toBe('');
      const forged = await nextTask(cluster.address, credentials.createInsecure(), `w1-${'a'.repeat(6)}`, jobId);
      expect(forged).toMatchObject({ ok: false, code: Status.NOT_FOUND });
      const r = await cluster.wait(50_000);
      expect(r.exitCode, cluster.output()).toBe(0);
      const log = cluster.coordinatorLog();
      expect(log.find((l) => l.msg === 'coordinator started')).toMatchObject({ security: { tls: 'insecure', token: 'generated for local workers' } });
      expect(log.filter((l) => l.msg === 'worker registered').map((l) => l.name)).toEqual(expect.arrayContaining(['local-0', 'local-1']));
      expect(log.filter((l) => l.msg === 'worker registered')).toHaveLength(2);
    } finally {
      cluster.kill();
    }
  });
});
