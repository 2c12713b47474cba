/** `gradfleet certs`: what it writes parses as X.509, chains to its CA, and carries the right names and usages. */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadClientTls, loadServerTls } from '../../shared/security/tls.js';
import { loadJoinToken } from '../../shared/security/join-token.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

describe('gradfleet certs', () => {
  let dir: string;
  let stdout: string;
  const pem = (name: string) => readFileSync(join(dir, name), 'utf8');

  beforeAll(() => {
    dir = join(mkdtempSync(join(tmpdir(), 'gradfleet-certs-')), 'out');
    stdout = execFileSync(process.execPath, [join(ROOT, 'bin/gradfleet.mjs'), 'certs', '--out', dir, '--host', 'gradfleet-coordinator', '--host', '10.1.2.3', '--days', '30'], { encoding: 'utf8' });
  }, 30_000);

  it('writes a CA, a server and a worker certificate with their keys and a join token, keys readable by the owner only', () => {
    expect(stdout).toContain('wrote 7 files');
    for (const f of ['ca.key', 'server.key', 'worker.key', 'join-token']) expect(statSync(join(dir, f)).mode & 0o777, f).toBe(0o600);
    for (const f of ['ca.crt', 'server.crt', 'worker.crt']) expect(statSync(join(dir, f)).mode & 0o777, f).toBe(0o644);
    expect(loadJoinToken({ file: join(dir, 'join-token') })).toMatch(/^[0-9a-f]{64}$/);
  });

  it('makes an ECDSA P-256 CA that may sign certificates but no further CAs', () => {
    const ca = new X509Certificate(pem('ca.crt'));
    expect(ca.ca).toBe(true);
    expect(ca.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(ca.verify(ca.publicKey)).toBe(true);
    const p = new x509.X509Certificate(pem('ca.crt'));
    expect(p.getExtension(x509.BasicConstraintsExtension)?.pathLength).toBe(0);
    const usages = p.getExtension(x509.KeyUsagesExtension)!.usages;
    expect(usages & x509.KeyUsageFlags.keyCertSign).toBeTruthy();
  });

  it('gives the server certificate serverAuth and the SANs 127.0.0.1, ::1, localhost and every --host', () => {
    const ca = new X509Certificate(pem('ca.crt'));
    const server = new X509Certificate(pem('server.crt'));
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(server.checkIssued(ca)).toBe(true);
    expect(server.ca).toBe(false);
    expect(server.subjectAltName).toBe('IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:localhost, DNS:gradfleet-coordinator, IP Address:10.1.2.3');
    expect(server.checkHost('gradfleet-coordinator')).toBe('gradfleet-coordinator');
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    const p = new x509.X509Certificate(pem('server.crt'));
    expect(p.getExtension(x509.ExtendedKeyUsageExtension)!.usages).toEqual([x509.ExtendedKeyUsage.serverAuth]);
    expect(p.getExtension(x509.KeyUsagesExtension)!.usages & x509.KeyUsageFlags.digitalSignature).toBeTruthy();
    // --days 30, from an hour ago.
    const days = (new Date(server.validTo).getTime() - new Date(server.validFrom).getTime()) / 86_400_000;
    expect(days).toBeCloseTo(30, 3);
  });

  it('gives the worker certificate clientAuth only, signed by the same CA', () => {
    const ca = new X509Certificate(pem('ca.crt'));
    const worker = new X509Certificate(pem('worker.crt'));
    expect(worker.verify(ca.publicKey)).toBe(true);
    expect(worker.subjectAltName).toBeUndefined();
    const p = new x509.X509Certificate(pem('worker.crt'));
    expect(p.getExtension(x509.ExtendedKeyUsageExtension)!.usages).toEqual([x509.ExtendedKeyUsage.clientAuth]);
  });

  it('writes files the coordinator and worker flags accept as a matching mutual-TLS setup', () => {
    expect(loadServerTls({ cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), ca: join(dir, 'ca.crt') })?.mode).toBe('mtls');
    expect(loadClientTls({ cert: join(dir, 'worker.crt'), key: join(dir, 'worker.key'), ca: join(dir, 'ca.crt') })?.mode).toBe('mtls');
  });

  it('refuses to overwrite an existing set without --force', () => {
    let err: { status: number; stderr: string } | undefined;
    try {
      execFileSync(process.execPath, [join(ROOT, 'bin/gradfleet.mjs'), 'certs', '--out', dir], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      err = e as { status: number; stderr: string };
    }
    expect(err?.status).toBe(2);
    expect(err?.stderr).toMatch(/ca\.key exists already; pass --force/);
  });
});
