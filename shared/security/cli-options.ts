/**
 * The security flags of `coordinator start`, `coordinator relay` and `worker start`, each with
 * its environment variable (commander reads it when the flag is absent), and the loading of
 * what they name: one clear error before anything listens or connects.
 */
import { Option } from '@commander-js/extra-typings';
import { loadJoinToken, TOKEN_ENV, TOKEN_FILE_ENV } from './join-token.js';
import { loadClientTls, loadServerTls, CLIENT_TLS_FLAGS, SERVER_TLS_FLAGS, TLS_ENV, UPSTREAM_TLS_ENV, UPSTREAM_TLS_FLAGS, type TlsMaterial } from './tls.js';

/** Server side: what a coordinator or relay listens with. */
export const serverTlsCertOption = () => new Option('--tls-cert <file>', 'serve TLS with this certificate (PEM; with --tls-key)').env(TLS_ENV.cert);
export const serverTlsKeyOption = () => new Option('--tls-key <file>', "the private key of --tls-cert (PEM)").env(TLS_ENV.key);
export const serverTlsCaOption = () => new Option('--tls-ca <file>', 'mutual TLS: accept only clients presenting a certificate signed by this CA (PEM; recommended)').env(TLS_ENV.ca);

/** Client side: how a worker verifies its coordinator and proves who it is. */
export const clientTlsCaOption = () => new Option('--tls-ca <file>', "connect over TLS and verify the coordinator's certificate against this CA (PEM)").env(TLS_ENV.ca);
export const clientTlsCertOption = () => new Option('--tls-cert <file>', 'present this client certificate (PEM; with --tls-key) to a mutual-TLS coordinator').env(TLS_ENV.cert);
export const clientTlsKeyOption = () => new Option('--tls-key <file>', 'the private key of --tls-cert (PEM)').env(TLS_ENV.key);

/** The relay's upstream side (it is a worker of its upstream coordinator). */
export const upstreamTlsCaOption = () => new Option('--upstream-tls-ca <file>', "connect to the upstream over TLS, verifying its certificate against this CA (PEM)").env(UPSTREAM_TLS_ENV.ca);
export const upstreamTlsCertOption = () => new Option('--upstream-tls-cert <file>', 'client certificate presented to a mutual-TLS upstream (PEM; with --upstream-tls-key)').env(UPSTREAM_TLS_ENV.cert);
export const upstreamTlsKeyOption = () => new Option('--upstream-tls-key <file>', 'the private key of --upstream-tls-cert (PEM)').env(UPSTREAM_TLS_ENV.key);

export const tokenFileOption = () => new Option('--token-file <file>', `join token: every call must carry it (default: $${TOKEN_ENV}, the token itself)`).env(TOKEN_FILE_ENV);

export interface TlsFlagValues {
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
}

export const serverTlsFrom = (o: TlsFlagValues): TlsMaterial | undefined => loadServerTls({ cert: o.tlsCert, key: o.tlsKey, ca: o.tlsCa }, SERVER_TLS_FLAGS);
export const clientTlsFrom = (o: TlsFlagValues): TlsMaterial | undefined => loadClientTls({ cert: o.tlsCert, key: o.tlsKey, ca: o.tlsCa }, CLIENT_TLS_FLAGS);
export const upstreamTlsFrom = (o: { upstreamTlsCert?: string; upstreamTlsKey?: string; upstreamTlsCa?: string }): TlsMaterial | undefined =>
  loadClientTls({ cert: o.upstreamTlsCert, key: o.upstreamTlsKey, ca: o.upstreamTlsCa }, UPSTREAM_TLS_FLAGS);
export const tokenFrom = (o: { tokenFile?: string }, env: NodeJS.ProcessEnv = process.env): string | undefined => loadJoinToken({ file: o.tokenFile, env });
