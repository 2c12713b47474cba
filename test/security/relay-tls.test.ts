/**
 * A relay under mutual TLS and a join token on both sides: a TLS client of its upstream
 * coordinator and a TLS server for its own workers, requiring the same token from them.
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { credentials, status as Status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../shared/node-flags.js';
import { startCluster, tinyJob } from '../cluster/harness.js';
import { makeTestPki } from './pki.js';
import { bearer, register, tlsClient } from './grpc-clients.js';

const COORDINATOR_BIN = join(resolve(fileURLToPath(new URL('../..', import.meta.url))), 'bin/coordinator.mjs');

describe('a relay between mTLS workers and an mTLS coordinator', () => {
  it('relays a whole job over TLS on both sides and refuses its own callers without the token', async () => {
    const pki = await makeTestPki();
    const serverTls = ['--tls-cert', pki.file('server.crt'), '--tls-key', pki.file('server.key'), '--tls-ca', pki.file('ca.crt')];
    const workerTls = ['--tls-ca', pki.file('ca.crt'), '--tls-cert', pki.file('worker.crt'), '--tls-key', pki.file('worker.key')];
    const token = ['--token-file', pki.file('join-token')];
    const cluster = await startCluster({ job: tinyJob({ name: 'relay-tls', epochs: 1 }), workers: 0, coordinatorArgs: [...serverTls, ...token] });
    // The upstream side through environment variables, the relay's own side through flags.
    const relay = spawn(process.execPath, [...NODE_FLAGS, COORDINATOR_BIN, 'relay', '--upstream', cluster.address, '--port', '0', '--host', '127.0.0.1', ...serverTls, ...token], {
      env: { ...process.env, GRADFLEET_LOG_LEVEL: 'warn', GRADFLEET_UPSTREAM_TLS_CA: pki.file('ca.crt'), GRADFLEET_UPSTREAM_TLS_CERT: pki.file('worker.crt'), GRADFLEET_UPSTREAM_TLS_KEY: pki.file('worker.key') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    relay.stdout.on('data', (d: Buffer) => (out += d.toString()));
    relay.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => relay.on('exit', (code) => r(code)));
    try {
      const address = await new Promise<string>((ok, fail) => {
        const t = setTimeout(() => fail(new Error(`the relay did not listen\n${out}`)), 20_000);
        relay.stdout.on('data', () => {
          const m = /relay listening on (\S+)/.exec(out);
          if (m) (clearTimeout(t), ok(m[1]!));
        });
      });
      const creds = () => tlsClient(pki.file('ca.crt'), pki.file('worker.crt'), pki.file('worker.key'));
      expect(await register(address, creds())).toMatchObject({ ok: false, code: Status.UNAUTHENTICATED });
      expect(await register(address, credentials.createInsecure(), bearer(pki.token))).toMatchObject({ ok: false, code: Status.UNAVAILABLE });
      // The last --coordinator wins: this worker joins the relay, not the coordinator.
      cluster.addWorker(['--coordinator', address, ...workerTls, ...token]);
      const end = await cluster.wait(50_000);
      expect(end.exitCode, cluster.output()).toBe(0);
      expect(await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 15_000))]), out).toBe(0);
      expect(out).toMatch(/relay finished: .*from its workers: \d+ results/);
    } finally {
      relay.kill('SIGKILL');
      cluster.kill();
    }
  });
});
