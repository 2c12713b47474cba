/**
 * TLS files and flags that cannot work are one clear error, naming the flag and the file, before
 * anything listens: unreadable, not PEM, a key of another certificate, an expired certificate, a
 * CA that is no CA, flags that do not go together.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadClientTls, loadServerTls, UPSTREAM_TLS_FLAGS } from '../../shared/security/tls.js';
import { TlsFileError, TlsUsageError } from '../../shared/security/errors.js';
import { makeTestPki, type TestPki } from './pki.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const run = promisify(execFile);

async function coordinator(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [join(ROOT, 'bin/coordinator.mjs'), 'start', '--port', '0', ...args], { timeout: 20_000 });
    return { code: 0, ...r };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

describe('TLS settings that cannot work', () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await makeTestPki();
    writeFileSync(pki.file('garbage.pem'), 'not a certificate\n');
  });

  it('names the flag and file of an unreadable or non-PEM file', () => {
    const missing = pki.file('missing.crt');
    expect(() => loadServerTls({ cert: missing, key: pki.file('server.key') })).toThrow(`--tls-cert ${missing}: cannot read the file (ENOENT)`);
    expect(() => loadServerTls({ cert: pki.file('garbage.pem'), key: pki.file('server.key') })).toThrow(`--tls-cert ${pki.file('garbage.pem')}: not a PEM certificate`);
    expect(() => loadServerTls({ cert: pki.file('server.crt'), key: pki.file('garbage.pem') })).toThrow(`--tls-key ${pki.file('garbage.pem')}: not a PEM private key`);
    expect(() => loadClientTls({ ca: pki.file('garbage.pem') }, UPSTREAM_TLS_FLAGS)).toThrow(`--upstream-tls-ca ${pki.file('garbage.pem')}: not a PEM certificate`);
  });

  it('refuses a key that belongs to another certificate', () => {
    expect(() => loadServerTls({ cert: pki.file('server.crt'), key: pki.file('worker.key') })).toThrow(new TlsFileError('--tls-key', pki.file('worker.key'), `this key does not belong to the certificate in --tls-cert ${pki.file('server.crt')}`));
  });

  it('refuses an expired certificate and a CA file that holds no CA', () => {
    expect(() => loadClientTls({ cert: pki.file('expired-worker.crt'), key: pki.file('expired-worker.key') })).toThrow(/^--tls-cert .*expired-worker\.crt: the certificate \(CN=expired-worker\) expired on 20\d\d-/);
    expect(() => loadServerTls({ cert: pki.file('server.crt'), key: pki.file('server.key'), ca: pki.file('worker.crt') })).toThrow(/--tls-ca .*worker\.crt: the certificate \(CN=gradfleet-worker\) is not a CA certificate/);
  });

  it('refuses flags that do not go together', () => {
    expect(() => loadServerTls({ ca: pki.file('ca.crt') })).toThrow(TlsUsageError);
    expect(() => loadServerTls({ cert: pki.file('server.crt') })).toThrow('serving TLS needs both --tls-cert and --tls-key (--tls-key is missing)');
    expect(() => loadClientTls({ key: pki.file('worker.key') })).toThrow('a client certificate needs both --tls-cert and --tls-key (--tls-cert is missing)');
    expect(loadServerTls({})).toBeUndefined();
    expect(loadClientTls({ ca: pki.file('ca.crt') })?.mode).toBe('tls');
  });

  it('makes `coordinator start` exit 2 with one line before it listens, for a flag or its environment variable', async () => {
    const mismatched = await coordinator(['--tls-cert', pki.file('server.crt'), '--tls-key', pki.file('worker.key')]);
    expect(mismatched.code).toBe(2);
    expect(mismatched.stdout).not.toContain('listening');
    expect(mismatched.stderr).toBe(`coordinator: --tls-key ${pki.file('worker.key')}: this key does not belong to the certificate in --tls-cert ${pki.file('server.crt')}\n`);

    const fromEnv = await run(process.execPath, [join(ROOT, 'bin/coordinator.mjs'), 'start', '--port', '0'], { env: { ...process.env, GRADFLEET_TLS_CERT: pki.file('server.crt'), GRADFLEET_TLS_KEY: pki.file('server.key'), GRADFLEET_TLS_CA: pki.file('nope.crt') }, timeout: 20_000 }).catch((e: { code: number; stderr: string }) => e);
    expect((fromEnv as { code: number }).code).toBe(2);
    expect((fromEnv as { stderr: string }).stderr).toBe(`coordinator: --tls-ca ${pki.file('nope.crt')}: cannot read the file (ENOENT)\n`);

    const local = await coordinator(['--tls-cert', pki.file('server.crt'), '--tls-key', pki.file('server.key'), '--local-workers', '1']);
    expect(local.code).toBe(2);
    expect(local.stderr).toMatch(/--local-workers starts plaintext workers over loopback/);
  });
});
