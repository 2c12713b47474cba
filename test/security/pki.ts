/**
 * Certificates for the security tests, written to a temp folder: the `gradfleet certs` set, a
 * worker certificate from another CA, and an expired worker certificate from the right CA.
 * Files: ca.crt ca.key server.crt server.key worker.crt worker.key join-token rogue-worker.* expired-worker.*
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuthority, issueCertificate, serverNames, writeCertificateSet } from '../../shared/security/certificates.js';

export interface TestPki {
  dir: string;
  file: (name: string) => string;
  /** The join token `writeCertificateSet` wrote (join-token). */
  token: string;
}

export async function makeTestPki(): Promise<TestPki> {
  const dir = mkdtempSync(join(tmpdir(), 'gradfleet-pki-'));
  const token = 'a'.repeat(16) + Math.random().toString(16).slice(2);
  // The set `gradfleet certs` writes, with its CA kept here to sign the expired certificate too.
  const ca = await createAuthority();
  const set = { ca: ca.pem, server: await issueCertificate(ca, 'server', 'gradfleet-coordinator', { names: serverNames() }), worker: await issueCertificate(ca, 'client', 'gradfleet-worker') };
  writeCertificateSet(dir, set, token);
  // A worker certificate signed by a CA the coordinator does not trust.
  const rogueCa = await createAuthority({ name: 'rogue' });
  const rogue = await issueCertificate(rogueCa, 'client', 'rogue-worker');
  writeFileSync(join(dir, 'rogue-worker.crt'), rogue.cert);
  writeFileSync(join(dir, 'rogue-worker.key'), rogue.key, { mode: 0o600 });
  // The right CA, but valid for one day only, ten days ago.
  const expired = await issueCertificate(ca, 'client', 'expired-worker', { notBefore: new Date(Date.now() - 10 * 86_400_000), days: 1 });
  writeFileSync(join(dir, 'expired-worker.crt'), expired.cert);
  writeFileSync(join(dir, 'expired-worker.key'), expired.key, { mode: 0o600 });
  return { dir, file: (name) => join(dir, name), token };
}
