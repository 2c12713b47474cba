/**
 * A small private PKI for a gradfleet cluster (`gradfleet certs`): one ECDSA P-256 CA, a server
 * certificate for the coordinator (and relays) and a client certificate for workers, all signed
 * by that CA. Certificates are built with @peculiar/x509 over node:crypto's WebCrypto (node:crypto
 * parses X.509 but cannot create it).
 *
 *   ca.crt / ca.key          CA (basicConstraints CA:true, pathLen 0; keyCertSign, cRLSign)
 *   server.crt / server.key  serverAuth; SAN 127.0.0.1, ::1, localhost + every --host
 *   worker.crt / worker.key  clientAuth
 *   join-token               a random join token (64 hex digits)
 *
 * Private keys (and the token) are written with mode 0600.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { randomBytes, webcrypto } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { newJoinToken } from './join-token.js';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

/** Names the server certificate always carries: a coordinator on this machine is reachable by them. */
export const LOOPBACK_NAMES = ['127.0.0.1', '::1', 'localhost'] as const;

export interface CertificateOptions {
  /** Extra names (DNS names or IP addresses) of the coordinator, added to the server certificate's SAN. */
  hosts?: readonly string[];
  /** Validity in days from `notBefore` (default 365). */
  days?: number;
  /** Start of validity (default: now minus one hour, to allow for clock skew). */
  notBefore?: Date;
  /** Subject common name prefix (default 'gradfleet'). */
  name?: string;
}

export interface PemPair {
  cert: string;
  key: string;
}

export interface CertificateSet {
  ca: PemPair;
  server: PemPair;
  worker: PemPair;
}

/** A CA able to sign more certificates (tests sign an expired one with it). */
export interface CertificateAuthority {
  pem: PemPair;
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
}

async function keyPair(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
}

async function keyPem(key: CryptoKey): Promise<string> {
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', key as unknown as webcrypto.CryptoKey);
  return x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');
}

const serial = () => {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f; // a positive INTEGER
  return b.toString('hex');
};

function validity(o: CertificateOptions): { notBefore: Date; notAfter: Date } {
  const days = o.days ?? 365;
  if (!Number.isFinite(days) || days <= 0) throw new RangeError(`days must be > 0, got ${days}`);
  const notBefore = o.notBefore ?? new Date(Date.now() - 3_600_000);
  return { notBefore, notAfter: new Date(notBefore.getTime() + days * DAY_MS) };
}

/** A new self-signed CA. */
export async function createAuthority(o: CertificateOptions = {}): Promise<CertificateAuthority> {
  const keys = await keyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${o.name ?? 'gradfleet'} CA`,
    ...validity(o),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, keys, pem: { cert: cert.toString('pem'), key: await keyPem(keys.privateKey) } };
}

/** A leaf certificate signed by `ca`: serverAuth with the SAN `names`, or clientAuth. */
export async function issueCertificate(ca: CertificateAuthority, kind: 'server' | 'client', commonName: string, o: CertificateOptions & { names?: readonly string[] } = {}): Promise<PemPair> {
  const keys = await keyPair();
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
    new x509.ExtendedKeyUsageExtension([kind === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth], false),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
  ];
  if (o.names && o.names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(o.names.map((n) => ({ type: isIP(n) ? ('ip' as const) : ('dns' as const), value: n }))));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${commonName}`,
    issuer: ca.cert.subject,
    ...validity(o),
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: ALG,
    extensions,
  });
  return { cert: cert.toString('pem'), key: await keyPem(keys.privateKey) };
}

/** The server certificate's SAN: the loopback names, then each extra host once. */
export function serverNames(hosts: readonly string[] = []): string[] {
  return [...new Set([...LOOPBACK_NAMES, ...hosts.map((h) => h.trim()).filter((h) => h !== '')])];
}

/** A CA with a server and a worker certificate. */
export async function createCertificateSet(o: CertificateOptions = {}): Promise<CertificateSet> {
  const ca = await createAuthority(o);
  const name = o.name ?? 'gradfleet';
  return {
    ca: ca.pem,
    server: await issueCertificate(ca, 'server', `${name}-coordinator`, { ...o, names: serverNames(o.hosts) }),
    worker: await issueCertificate(ca, 'client', `${name}-worker`, o),
  };
}


/** The files `writeCertificateSet` writes, by name. */
export const CERT_FILES = ['ca.crt', 'ca.key', 'server.crt', 'server.key', 'worker.crt', 'worker.key', 'join-token'] as const;

/**
 * Writes the set (and a join token) into `dir` (created if needed): certificates 0644, keys and
 * token 0600. Returns the paths written.
 */
export function writeCertificateSet(dir: string, set: CertificateSet, token: string = newJoinToken()): string[] {
  mkdirSync(dir, { recursive: true });
  const files: [string, string, number][] = [
    ['ca.crt', set.ca.cert, 0o644],
    ['ca.key', set.ca.key, 0o600],
    ['server.crt', set.server.cert, 0o644],
    ['server.key', set.server.key, 0o600],
    ['worker.crt', set.worker.cert, 0o644],
    ['worker.key', set.worker.key, 0o600],
    ['join-token', `${token}\n`, 0o600],
  ];
  return files.map(([name, text, mode]) => {
    const path = join(dir, name);
    writeFileSync(path, text, { mode });
    // An existing file keeps its mode on write: set it explicitly.
    chmodSync(path, mode);
    return path;
  });
}
