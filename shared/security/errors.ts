/**
 * Errors of the security layer: TLS material and join tokens that cannot be used. Each names the
 * flag (or environment variable) and the file, so that a bad deployment says what to fix. They
 * are thrown before anything listens or connects.
 */

/** Base class: a security setting that cannot be used as given. */
export class SecurityConfigError extends Error {
  override name = 'SecurityConfigError';
}

/** A TLS file (certificate, key, CA) that is unreadable, not PEM, mismatched or expired. */
export class TlsFileError extends SecurityConfigError {
  override name = 'TlsFileError';
  constructor(
    readonly flag: string,
    readonly file: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${flag} ${file}: ${problem}`, options);
  }
}

/** A combination of TLS flags that does not make sense (a key without a certificate…). */
export class TlsUsageError extends SecurityConfigError {
  override name = 'TlsUsageError';
}

/** A join token that cannot be used (an unreadable or empty file, one too short to be secret). */
export class JoinTokenError extends SecurityConfigError {
  override name = 'JoinTokenError';
}
