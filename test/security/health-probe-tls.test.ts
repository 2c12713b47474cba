/**
 * deploy/docker/health-probe.mjs over mutual TLS (what the secure Kubernetes overlay's exec
 * probes run): with the CA and a client certificate it reads SERVING from a mutual-TLS health
 * server; without a client certificate, or in plaintext, the server refuses it and it exits 1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { makeTestPki, type TestPki } from './pki.js';

const PROBE = join(process.cwd(), 'deploy/docker/health-probe.mjs');

function probe(args: string[], env: Record<string, string> = {}): Promise<{ code: number; line: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [PROBE, ...args], { env: { ...process.env, ...env }, timeout: 20_000 }, (err, stdout) => done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, line: stdout.trim() }));
  });
}

describe('health-probe.mjs with TLS', () => {
  let pki: TestPki;
  let server: Server;
  let address: string;
  beforeAll(async () => {
    pki = await makeTestPki();
    server = new Server();
    new HealthImplementation({ '': 'SERVING', 'gradfleet.v1.Coordinator': 'SERVING' }).addToServer(server);
    const creds = ServerCredentials.createSsl(readFileSync(pki.file('ca.crt')), [{ cert_chain: readFileSync(pki.file('server.crt')), private_key: readFileSync(pki.file('server.key')) }], true);
    const port = await new Promise<number>((ok, fail) => server.bindAsync('127.0.0.1:0', creds, (e, p) => (e ? fail(e) : ok(p))));
    address = `127.0.0.1:${port}`;
  });
  afterAll(() => {
    server?.forceShutdown();
    if (pki) rmSync(pki.dir, { recursive: true, force: true });
  });

  it('reads SERVING over mutual TLS, from flags or GRADFLEET_PROBE_TLS_* variables', async () => {
    const flags = ['--tls-ca', pki.file('ca.crt'), '--tls-cert', pki.file('worker.crt'), '--tls-key', pki.file('worker.key')];
    expect(await probe([address, ...flags])).toEqual({ code: 0, line: `health-probe: ${address} (mtls): SERVING` });
    const env = { GRADFLEET_PROBE_TLS_CA: pki.file('ca.crt'), GRADFLEET_PROBE_TLS_CERT: pki.file('worker.crt'), GRADFLEET_PROBE_TLS_KEY: pki.file('worker.key') };
    expect(await probe([address, 'gradfleet.v1.Coordinator'], env)).toEqual({ code: 0, line: `health-probe: ${address} service=gradfleet.v1.Coordinator (mtls): SERVING` });
  }, 30_000);

  it('fails without a client certificate, in plaintext, and with unusable flags', async () => {
    expect((await probe([address, '--tls-ca', pki.file('ca.crt')])).code).toBe(1);
    expect((await probe([address])).code).toBe(1);
    expect(await probe([address, '--tls-cert', pki.file('worker.crt')])).toEqual({ code: 1, line: 'health-probe: --tls-cert/--tls-key need --tls-ca (the CA that signed the server certificate)' });
    expect(await probe([address, '--tls-ca', '/nonexistent/ca.crt'])).toEqual({ code: 1, line: 'health-probe: --tls-ca /nonexistent/ca.crt: cannot read the file (ENOENT)' });
    expect((await probe([address, '--bogus'])).line).toMatch(/unknown flag --bogus/);
  }, 30_000);
});
