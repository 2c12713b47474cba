/**
 * The coordinator's HTTP/2 receive windows, raised from HTTP/2's 64 KiB to 16 MiB.
 *
 * Why: every step each worker uploads a gradient of P·4 bytes (940 KB for the 235k-parameter
 * MLP). With 64 KiB windows the worker may send 64 KiB, then waits for a WINDOW_UPDATE from the
 * coordinator: fifteen round trips per upload, each one waking a process. Raised, the whole
 * upload is in flight at once: on loopback 3.6 → 1.6 ms per 940 KB upload (bench/RESULTS.md).
 * Workers raise their own windows through grpc-js's `grpc-node.flow_control_window` option;
 * grpc-js (1.14) has no server-side option, so this sets the stream window in the settings the
 * server is created with and the connection window of every session it accepts, through two
 * fields grpc-js keeps private. test/cluster/http2-windows.test.ts checks both on a real
 * connection, so a grpc-js upgrade that moves them fails there rather than silently slowing
 * training; until then, a missing field only logs a warning (the windows stay at 64 KiB).
 */
import type { EventEmitter } from 'node:events';
import type { Http2Session } from 'node:http2';
import type { Server } from '@grpc/grpc-js';
import type { Logger } from '../../shared/log.js';

export const RECEIVE_WINDOW_BYTES = 16 << 20;

interface GrpcServerInternals {
  commonServerOptions?: { settings?: Record<string, unknown> };
  http2Servers?: Map<EventEmitter, unknown>;
}

/** Before bindAsync: the stream window every session of this server advertises. */
export function widenStreamWindows(server: Server, log: Logger): void {
  const s = server as unknown as GrpcServerInternals;
  if (!s.commonServerOptions) {
    log.warn('grpc-js has no commonServerOptions: HTTP/2 stream windows stay at 64 KiB (uploads take more round trips)');
    return;
  }
  s.commonServerOptions.settings = { ...s.commonServerOptions.settings, initialWindowSize: RECEIVE_WINDOW_BYTES };
}

/** After bindAsync: the connection window of every session accepted from now on. */
export function widenConnectionWindows(server: Server, log: Logger): void {
  const servers = (server as unknown as GrpcServerInternals).http2Servers;
  if (!servers) {
    log.warn('grpc-js has no http2Servers: HTTP/2 connection windows stay at 64 KiB (uploads take more round trips)');
    return;
  }
  for (const h2 of servers.keys()) {
    h2.on('session', (session: Http2Session) => {
      // The window can be set once the session's settings are exchanged.
      session.once('localSettings', () => session.setLocalWindowSize(RECEIVE_WINDOW_BYTES));
    });
  }
}
