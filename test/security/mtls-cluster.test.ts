/**
 * A coordinator process under mutual TLS and a join token: peers without the right certificate
 * or token are refused and get nothing, and a two-worker run with the right ones trains to the
 * same parameters, bit for bit, as a plaintext run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials, status as Status } from '@grpc/grpc-js';
import { readFinalParams, runCluster, runWorkerProcess, startCluster, tinyJob, type ClusterHandle } from '../cluster/harness.js';
import { makeTestPki, type TestPki } from './pki.js';
import { bearer, getJob, healthStatus, register, tlsClient } from './grpc-clients.js';

const job = tinyJob({ name: 'secure', epochs: 1 });

describe('a coordinator under mutual TLS and a join token', () => {
  let pki: TestPki;
  let cluster: ClusterHandle;
  const workerTls = () => ['--tls-ca', pki.file('ca.crt'), '--tls-cert', pki.file('worker.crt'), '--tls-key', pki.file('worker.key')];

  beforeAll(async () => {
    pki = await makeTestPki();
    cluster = await startCluster({
      job,
      workers: 0,
      // 'info', to see every registration and refusal in the log.
      env: { GRADFLEET_LOG_LEVEL: 'info' },
      coordinatorArgs: ['--tls-cert', pki.file('server.crt'), '--tls-key', pki.file('server.key'), '--tls-ca', pki.file('ca.crt'), '--token-file', pki.file('join-token')],
      workerArgs: [...workerTls(), '--token-file', pki.file('join-token')],
    });
  });

  afterAll(() => cluster?.kill());

  const registrations = () => cluster.coordinatorLog().filter((l) => l.msg === 'worker registered');

  it('refuses a plaintext worker: the handshake fails, it never registers, and it gives up saying why', async () => {
    const w = await runWorkerProcess({ coordinator: cluster.address, env: { GRADFLEET_JOIN_TOKEN: pki.token }, args: ['--unreachable-timeout', '1500'], timeoutMs: 20_000 });
    expect(w.code).toBe(1);
    expect(w.stderr).toMatch(/unreachable for .*giving up/);
    const r = await register(cluster.address, credentials.createInsecure(), bearer(pki.token));
    expect(r.ok).toBe(false);
    expect(r.ok ? 0 : r.code).toBe(Status.UNAVAILABLE);
  });

  it('refuses a client that presents no certificate', async () => {
    const r = await register(cluster.address, tlsClient(pki.file('ca.crt')), bearer(pki.token));
    expect(r).toMatchObject({ ok: false, code: Status.UNAVAILABLE });
  });

  it('refuses a worker whose certificate comes from another CA', async () => {
    const r = await register(cluster.address, tlsClient(pki.file('ca.crt'), pki.file('rogue-worker.crt'), pki.file('rogue-worker.key')), bearer(pki.token));
    expect(r).toMatchObject({ ok: false, code: Status.UNAVAILABLE });
  });

  it('refuses an expired client certificate from the right CA (and the worker command will not start with one)', async () => {
    const r = await register(cluster.address, tlsClient(pki.file('ca.crt'), pki.file('expired-worker.crt'), pki.file('expired-worker.key')), bearer(pki.token));
    expect(r).toMatchObject({ ok: false, code: Status.UNAVAILABLE });
    const w = await runWorkerProcess({ coordinator: cluster.address, args: ['--tls-ca', pki.file('ca.crt'), '--tls-cert', pki.file('expired-worker.crt'), '--tls-key', pki.file('expired-worker.key')], timeoutMs: 20_000 });
    expect(w.code).toBe(1);
    expect(w.stderr).toContain(`worker: --tls-cert ${pki.file('expired-worker.crt')}: the certificate (CN=expired-worker) expired on`);
  });

  it('refuses a missing or wrong token with UNAUTHENTICATED, gives nothing away, and logs the peer once', async () => {
    const creds = () => tlsClient(pki.file('ca.crt'), pki.file('worker.crt'), pki.file('worker.key'));
    const missing = await register(cluster.address, creds());
    expect(missing).toMatchObject({ ok: false, code: Status.UNAUTHENTICATED, details: expect.stringMatching(/^missing join token/) });
    const wrongToken = `${pki.token}x`;
    const wrong = await register(cluster.address, creds(), bearer(wrongToken));
    expect(wrong).toMatchObject({ ok: false, code: Status.UNAUTHENTICATED, details: 'wrong join token' });
    // No job bytes for a caller without the token, not even the metadata chunk.
    const job = await getJob(cluster.address, creds(), bearer(wrongToken));
    expect(job).toMatchObject({ chunks: 0, code: Status.UNAUTHENTICATED });
    // Health checks stay open (Kubernetes' probes carry no token).
    expect(await healthStatus(cluster.address, creds(), 'gradfleet.v1.Coordinator')).toBe('SERVING');
    // A real worker with a wrong token stops at once with the coordinator's reason.
    const w = await runWorkerProcess({ coordinator: cluster.address, env: { GRADFLEET_JOIN_TOKEN: wrongToken }, args: workerTls(), timeoutMs: 20_000 });
    expect(w.code).toBe(1);
    expect(w.stderr).toMatch(/refused Register: wrong join token \(UNAUTHENTICATED/);

    const refusals = cluster.coordinatorLog().filter((l) => String(l.msg).startsWith('refused a call without a valid join token'));
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatchObject({ peer: '127.0.0.1', method: '/gradfleet.v1.Coordinator/Register', reason: expect.stringMatching(/^missing join token/) });
    const everything = cluster.output();
    expect(everything).not.toContain(wrongToken);
    expect(everything).not.toContain(pki.token);
    expect(registrations()).toHaveLength(0);
  });

  it('trains with two mTLS workers to the same final parameters, bit for bit, as a plaintext run', async () => {
    cluster.addWorker();
    cluster.addWorker();
    const secure = await cluster.wait(50_000);
    expect(secure.exitCode, cluster.output()).toBe(0);
    expect(registrations()).toHaveLength(2);
    const plain = await runCluster({ job, workers: 2, timeoutMs: 50_000 });
    expect(plain.exitCode, plain.coordinator.stderr).toBe(0);
    expect(readFinalParams(secure.runDir)).toEqual(readFinalParams(plain.runDir));
    expect(cluster.coordinatorLog().find((l) => l.msg === 'coordinator started')).toMatchObject({ security: { tls: 'mtls', token: 'required' } });
  });
});
