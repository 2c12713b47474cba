/**
 * TLS material from files, checked before anything listens or connects, and the grpc-js
 * credentials built from it.
 *
 *   server: cert + key          → TLS (clients verify the server)
 *           cert + key + ca     → mutual TLS: clients must present a certificate signed by `ca`
 *   client: ca                  → verify the server against `ca` (instead of the system roots)
 *           cert + key (+ ca)   → also present a client certificate (for a mutual-TLS server)
 *   none of them                → plaintext (for loopback only)
 *
 * A file that cannot be read, is not PEM, a key that does not match its certificate, or a
 * certificate that has expired (or is not valid yet) is one TlsFileError naming the flag and file.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ChannelCredentials, credentials, ServerCredentials } from '@grpc/grpc-js';
import { TlsFileError, TlsUsageError } from './errors.js';

/** Paths as given on the command line (or by the environment). */
export interface TlsFiles {
  cert?: string;
  key?: string;
  ca?: string;
}

/** The flag each file came from, for error messages (the relay's upstream side has its own). */
export interface TlsFlags {
  cert: string;
  key: string;
  ca: string;
}

export const SERVER_TLS_FLAGS: TlsFlags = { cert: '--tls-cert', key: '--tls-key', ca: '--tls-ca' };
export const CLIENT_TLS_FLAGS: TlsFlags = SERVER_TLS_FLAGS;
export const UPSTREAM_TLS_FLAGS: TlsFlags = { cert: '--upstream-tls-cert', key: '--upstream-tls-key', ca: '--upstream-tls-ca' };

/** The environment variable of each TLS flag. */
export const TLS_ENV = { cert: 'GRADFLEET_TLS_CERT', key: 'GRADFLEET_TLS_KEY', ca: 'GRADFLEET_TLS_CA' } as const;
export const UPSTREAM_TLS_ENV = { cert: 'GRADFLEET_UPSTREAM_TLS_CERT', key: 'GRADFLEET_UPSTREAM_TLS_KEY', ca: 'GRADFLEET_UPSTREAM_TLS_CA' } as const;

/** Checked PEM bytes. */
export interface TlsMaterial {
  cert?: Buffer;
  key?: Buffer;
  ca?: Buffer;
  /** 'tls' (server authenticated) or 'mtls' (both ends). */
  mode: 'tls' | 'mtls';
  /** The files, for the start-up log line. */
  files: TlsFiles;
}

function read(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TlsFileError(flag, file, `cannot read the file (${code ?? (e as Error).message})`, { cause: e });
  }
}

function certificate(flag: string, file: string, bytes: Buffer, now: Date): X509Certificate {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(bytes);
  } catch (e) {
    throw new TlsFileError(flag, file, 'not a PEM certificate', { cause: e });
  }
  if (new Date(cert.validTo).getTime() < now.getTime()) throw new TlsFileError(flag, file, `the certificate (${cert.subject.replace(/\n/g, ', ')}) expired on ${new Date(cert.validTo).toISOString()}`);
  if (new Date(cert.validFrom).getTime() > now.getTime()) throw new TlsFileError(flag, file, `the certificate (${cert.subject.replace(/\n/g, ', ')}) is not valid before ${new Date(cert.validFrom).toISOString()}`);
  return cert;
}

function privateKey(flag: string, file: string, bytes: Buffer): KeyObject {
  try {
    return createPrivateKey(bytes);
  } catch (e) {
    throw new TlsFileError(flag, file, 'not a PEM private key (an unencrypted PKCS#8, SEC1 or PKCS#1 key is expected)', { cause: e });
  }
}

/** Reads and checks a certificate with its key; the pair must match. */
function identity(files: TlsFiles, flags: TlsFlags, now: Date): { cert: Buffer; key: Buffer } {
  const certBytes = read(flags.cert, files.cert!);
  const keyBytes = read(flags.key, files.key!);
  const cert = certificate(flags.cert, files.cert!, certBytes, now);
  const key = privateKey(flags.key, files.key!, keyBytes);
  if (!cert.checkPrivateKey(key)) throw new TlsFileError(flags.key, files.key!, `this key does not belong to the certificate in ${flags.cert} ${files.cert}`);
  return { cert: certBytes, key: keyBytes };
}

function authority(files: TlsFiles, flags: TlsFlags, now: Date): Buffer {
  const bytes = read(flags.ca, files.ca!);
  const cert = certificate(flags.ca, files.ca!, bytes, now);
  if (!cert.ca) throw new TlsFileError(flags.ca, files.ca!, `the certificate (${cert.subject.replace(/\n/g, ', ')}) is not a CA certificate (basicConstraints CA:true)`);
  return bytes;
}

const given = (v: string | undefined): v is string => v !== undefined && v !== '';

/** The server side's TLS: undefined for plaintext. Throws TlsUsageError / TlsFileError. */
export function loadServerTls(files: TlsFiles, flags: TlsFlags = SERVER_TLS_FLAGS, now = new Date()): TlsMaterial | undefined {
  const f: TlsFiles = { ...(given(files.cert) ? { cert: files.cert } : {}), ...(given(files.key) ? { key: files.key } : {}), ...(given(files.ca) ? { ca: files.ca } : {}) };
  if (!f.cert && !f.key && !f.ca) return undefined;
  if (!f.cert || !f.key) throw new TlsUsageError(`serving TLS needs both ${flags.cert} and ${flags.key}${f.cert ? ` (${flags.key} is missing)` : f.key ? ` (${flags.cert} is missing)` : ` (${flags.ca} alone only says which client certificates to accept)`}`);
  const { cert, key } = identity(f, flags, now);
  const ca = f.ca ? authority(f, flags, now) : undefined;
  return { cert, key, ...(ca ? { ca } : {}), mode: ca ? 'mtls' : 'tls', files: f };
}

/** The client side's TLS: undefined for plaintext. Throws TlsUsageError / TlsFileError. */
export function loadClientTls(files: TlsFiles, flags: TlsFlags = CLIENT_TLS_FLAGS, now = new Date()): TlsMaterial | undefined {
  const f: TlsFiles = { ...(given(files.cert) ? { cert: files.cert } : {}), ...(given(files.key) ? { key: files.key } : {}), ...(given(files.ca) ? { ca: files.ca } : {}) };
  if (!f.cert && !f.key && !f.ca) return undefined;
  if (Boolean(f.cert) !== Boolean(f.key)) throw new TlsUsageError(`a client certificate needs both ${flags.cert} and ${flags.key} (${f.cert ? flags.key : flags.cert} is missing)`);
  const pair = f.cert ? identity(f, flags, now) : undefined;
  const ca = f.ca ? authority(f, flags, now) : undefined;
  return { ...(pair ?? {}), ...(ca ? { ca } : {}), mode: pair ? 'mtls' : 'tls', files: f };
}

/** Credentials for Server.bindAsync: plaintext without material. */
export function serverCredentials(tls: TlsMaterial | undefined): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  return ServerCredentials.createSsl(tls.ca ?? null, [{ cert_chain: tls.cert!, private_key: tls.key! }], tls.ca !== undefined);
}

/** Credentials for a client channel: plaintext without material. */
export function channelCredentials(tls: TlsMaterial | undefined): ChannelCredentials {
  if (!tls) return credentials.createInsecure();
  return credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null);
}

/** 'insecure', 'tls' or 'mtls', for logs. */
export function tlsMode(tls: TlsMaterial | undefined): 'insecure' | 'tls' | 'mtls' {
  return tls?.mode ?? 'insecure';
}

/** Whether a listen address only reaches this machine (plaintext is acceptable there). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\./.test(h);
}
