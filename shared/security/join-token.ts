/**
 * The join token: a shared secret the calls that hand out a worker id, the job or the data
 * (TOKEN_METHODS) carry in their metadata as `authorization: Bearer <token>`; the rest are
 * authorized by the worker id Register issued. The server compares SHA-256 digests in constant
 * time (crypto.timingSafeEqual), refuses a missing or wrong token with UNAUTHENTICATED before any
 * handler runs (so the caller gets nothing: no registration, job, data, parameters or task), and
 * logs a refusal once per peer address. The gRPC health service stays open (Kubernetes probes
 * carry no token).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { InterceptingCall, ServerInterceptingCall, ServerListenerBuilder, status as Status, type Interceptor, type Metadata, type ServerInterceptor } from '@grpc/grpc-js';
import type { Logger } from '../log.js';
import { JoinTokenError } from './errors.js';

/** The token itself (not a file) in the environment. */
export const TOKEN_ENV = 'GRADFLEET_JOIN_TOKEN';
/** The environment variable of --token-file. */
export const TOKEN_FILE_ENV = 'GRADFLEET_TOKEN_FILE';
/** The metadata key the token travels in. */
export const AUTH_METADATA = 'authorization';
/** Shorter tokens are refused: a join token must be a secret, not a password to guess. */
export const MIN_TOKEN_LENGTH = 16;
/**
 * The calls that must carry the token: the ones a caller without a worker id can make, and that
 * hand out the job, the data or a worker id. Every other call names the worker id Register
 * issued, a 96-bit credential (dispatch/worker-registry.ts), and is refused without a known one;
 * those calls (the training loop's: NextTask, SubmitResult, GetParams, Heartbeat) pass with no
 * interception. Health checks stay open (Kubernetes' gRPC probes carry no token).
 */
export const TOKEN_METHODS: ReadonlySet<string> = new Set(['/gradfleet.v1.Coordinator/Register', '/gradfleet.v1.Coordinator/GetJob', '/gradfleet.v1.Coordinator/GetData']);

/** A new random join token: 32 bytes as 64 hex digits. */
export function newJoinToken(): string {
  return randomBytes(32).toString('hex');
}

/**
 * The token from `--token-file` (which wins) or the environment's GRADFLEET_JOIN_TOKEN;
 * undefined when neither is given. Surrounding whitespace (a file's final newline) is dropped.
 */
export function loadJoinToken(o: { file?: string; env?: NodeJS.ProcessEnv; flag?: string }): string | undefined {
  const flag = o.flag ?? '--token-file';
  let token: string | undefined;
  let from: string;
  if (o.file !== undefined && o.file !== '') {
    from = `${flag} ${o.file}`;
    try {
      token = readFileSync(o.file, 'utf8').trim();
    } catch (e) {
      throw new JoinTokenError(`${from}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
    }
  } else {
    const v = (o.env ?? process.env)[TOKEN_ENV];
    if (v === undefined || v === '') return undefined;
    from = `$${TOKEN_ENV}`;
    token = v.trim();
  }
  if (token === '') throw new JoinTokenError(`${from}: the join token is empty`);
  if (/\s/.test(token)) throw new JoinTokenError(`${from}: the join token contains whitespace`);
  if (token.length < MIN_TOKEN_LENGTH) throw new JoinTokenError(`${from}: the join token has ${token.length} characters; at least ${MIN_TOKEN_LENGTH} are needed (\`gradfleet certs\` writes a random one, or: openssl rand -hex 32)`);
  return token;
}

const digest = (s: string | Buffer) => createHash('sha256').update(s).digest();

/** Why a call's metadata is refused, or undefined when it carries the token. Never contains the token. */
export function tokenProblem(expected: Buffer, metadata: Metadata): string | undefined {
  const values = metadata.get(AUTH_METADATA);
  if (values.length === 0) return `missing join token: the call carried no '${AUTH_METADATA}: Bearer <token>' metadata (give the worker --token-file or $${TOKEN_ENV})`;
  if (values.length > 1) return `more than one '${AUTH_METADATA}' metadata value`;
  const v = values[0]!;
  const text = typeof v === 'string' ? v : v.toString('utf8');
  const m = /^Bearer (\S+)$/.exec(text);
  if (!m) return `malformed '${AUTH_METADATA}' metadata: expected 'Bearer <token>'`;
  // Digests have equal lengths whatever was sent, so the comparison takes the same time.
  if (!timingSafeEqual(digest(m[1]!), expected)) return 'wrong join token';
  return undefined;
}

/** The address part of a peer ('127.0.0.1:51234' → '127.0.0.1', '[::1]:5' → '[::1]'). */
export function peerHost(peer: string): string {
  return peer.replace(/:\d+$/, '');
}

/** Most peers remembered for "logged once": beyond it, refusals are counted but not logged. */
const MAX_LOGGED_PEERS = 10_000;

/**
 * A server interceptor that lets a call through only with the join token. Refusals are logged
 * once per peer address (a misconfigured worker retrying does not flood the log).
 */
export function joinTokenInterceptor(token: string, log: Logger): ServerInterceptor {
  const expected = digest(token);
  const logged = new Set<string>();
  let unlogged = 0;
  const refused = (peer: string, method: string, reason: string) => {
    const host = peerHost(peer);
    if (logged.has(host)) return;
    if (logged.size >= MAX_LOGGED_PEERS) {
      if (unlogged++ === 0) log.warn({ peers: logged.size }, 'refused calls from more peers than are logged one by one; further refusals are not logged');
      return;
    }
    logged.add(host);
    log.warn({ peer: host, method, reason }, 'refused a call without a valid join token (UNAUTHENTICATED; logged once per peer address)');
  };
  return (method, call) => {
    // grpc-js chains whatever implements the call interface (its types name the class): the
    // training loop's calls go on unwrapped.
    if (!TOKEN_METHODS.has(method.path)) return call as ServerInterceptingCall;
    let refusedCall = false;
    const listener = new ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const problem = tokenProblem(expected, metadata);
        if (problem === undefined) return next(metadata);
        refusedCall = true;
        refused(call.getPeer(), method.path, problem);
        call.sendStatus({ code: Status.UNAUTHENTICATED, details: problem });
      })
      // A refused call's messages never reach the handler (it is never started).
      .withOnReceiveMessage((message, next) => {
        if (!refusedCall) next(message);
      })
      .withOnReceiveHalfClose((next) => {
        if (!refusedCall) next();
      })
      .build();
    return new ServerInterceptingCall(call, { start: (next) => next(listener) });
  };
}

/** A client interceptor that adds the token to the metadata of the calls that need it (TOKEN_METHODS). */
export function bearerInterceptor(token: string): Interceptor {
  return (options, nextCall) => {
    if (!TOKEN_METHODS.has(options.method_definition.path)) return nextCall(options) as InterceptingCall;
    return new InterceptingCall(nextCall(options), {
      start: (metadata, listener, next) => {
        metadata.set(AUTH_METADATA, `Bearer ${token}`);
        next(metadata, listener);
      },
    });
  };
}
