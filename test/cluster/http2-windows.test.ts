/**
 * The coordinator's HTTP/2 receive windows are 16 MiB, on streams and on the connection, as a
 * client sees them: a worker can send a whole gradient without waiting for window updates. This
 * reaches into grpc-js's private fields (coordinator/dispatch/http2-windows.ts), so it is checked
 * on a real connection.
 */
import http2 from 'node:http2';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { RECEIVE_WINDOW_BYTES, widenConnectionWindows, widenStreamWindows } from '../../coordinator/dispatch/http2-windows.js';
import { createLogger } from '../../shared/log.js';

const log = createLogger('test', { GRADFLEET_LOG_LEVEL: 'silent' });
let cleanup: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanup.reverse()) c();
  cleanup = [];
});

async function listening(widen: boolean): Promise<number> {
  const server = new Server();
  if (widen) widenStreamWindows(server, log);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  if (widen) widenConnectionWindows(server, log);
  cleanup.push(() => server.forceShutdown());
  return port;
}

/** What a client learns of the server's windows: the stream window it advertised, and the connection window once updated. */
async function windowsSeenBy(port: number): Promise<{ stream: number; connection: number }> {
  const client = http2.connect(`http://127.0.0.1:${port}`);
  client.on('error', () => {}); // the server shutting down first after the test is not a failure
  cleanup.push(() => client.close());
  await new Promise<void>((resolve) => client.once('remoteSettings', () => resolve()));
  // The server's WINDOW_UPDATE for the connection follows its settings; give it a moment.
  for (let i = 0; i < 50 && (client.state.remoteWindowSize ?? 0) < RECEIVE_WINDOW_BYTES; i++) await new Promise((r) => setTimeout(r, 10));
  return { stream: client.remoteSettings.initialWindowSize!, connection: client.state.remoteWindowSize! };
}

describe('the coordinator’s HTTP/2 receive windows', () => {
  it('are 16 MiB per stream and per connection', async () => {
    expect(await windowsSeenBy(await listening(true))).toEqual({ stream: RECEIVE_WINDOW_BYTES, connection: RECEIVE_WINDOW_BYTES });
  });

  it('would be HTTP/2’s 64 KiB without it (what the change is for)', async () => {
    const seen = await windowsSeenBy(await listening(false));
    expect(seen.stream).toBe(65535);
    expect(seen.connection).toBe(65535);
  });
});
