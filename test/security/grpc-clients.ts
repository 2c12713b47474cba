/** Raw gRPC calls for the security tests: Register, GetJob and a health check, with chosen credentials and metadata. */
import { credentials, makeClientConstructor, Metadata, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { service as healthService } from 'grpc-health-check';
import { CoordinatorClient } from '../../shared/cluster/service.js';
import type { RegisterReply } from '../../shared/proto/gen/cluster.js';

export const tlsClient = (ca: string, cert?: string, key?: string): ChannelCredentials =>
  credentials.createSsl(readFileSync(ca), key ? readFileSync(key) : null, cert ? readFileSync(cert) : null);

export function bearer(token: string | undefined): Metadata {
  const m = new Metadata();
  if (token !== undefined) m.set('authorization', `Bearer ${token}`);
  return m;
}

export type Outcome<T> = { ok: true; reply: T } | { ok: false; code: number; details: string };

/** One Register call (no waiting for the channel: a refused handshake fails at once). */
export function register(address: string, creds: ChannelCredentials, metadata = new Metadata()): Promise<Outcome<RegisterReply>> {
  const client = new CoordinatorClient(address, creds);
  return new Promise((resolve) =>
    client.register({ name: 'probe', device: 'cpu', deviceDetail: 'cpu', threads: 1, version: '0.1.0' }, metadata, { deadline: Date.now() + 5_000 }, (e, r) => {
      client.close();
      resolve(e ? { ok: false, code: (e as ServiceError).code, details: (e as ServiceError).details } : { ok: true, reply: r });
    }),
  );
}

/** A GetJob stream: how many chunks arrived before it ended, and how it ended. */
export function getJob(address: string, creds: ChannelCredentials, metadata = new Metadata()): Promise<{ chunks: number; code?: number; details?: string }> {
  const client = new CoordinatorClient(address, creds);
  return new Promise((resolve) => {
    let chunks = 0;
    const call = client.getJob({ workerId: 'w', jobId: 'j' }, metadata, { deadline: Date.now() + 5_000 });
    call.on('data', () => chunks++);
    call.on('error', (e: ServiceError) => {
      client.close();
      resolve({ chunks, code: e.code, details: e.details });
    });
    call.on('end', () => {
      client.close();
      resolve({ chunks });
    });
  });
}

/** One NextTask call under a worker id (no token: the training loop's calls are authorized by the id). */
export function nextTask(address: string, creds: ChannelCredentials, workerId: string, jobId: string): Promise<Outcome<unknown>> {
  const client = new CoordinatorClient(address, creds);
  return new Promise((resolve) =>
    client.nextTask({ workerId, jobId, waitMs: 0, holding: [] }, new Metadata(), { deadline: Date.now() + 5_000 }, (e, r) => {
      client.close();
      resolve(e ? { ok: false, code: (e as ServiceError).code, details: (e as ServiceError).details } : { ok: true, reply: r });
    }),
  );
}

/** grpc.health.v1 Check for a service, without any token. */
export function healthStatus(address: string, creds: ChannelCredentials, service: string): Promise<string> {
  const Health = makeClientConstructor(healthService as never, 'grpc.health.v1.Health');
  const client = new Health(address, creds) as unknown as {
    check(req: { service: string }, md: Metadata, opts: { deadline: number }, cb: (e: ServiceError | null, r: { status: string }) => void): void;
    close(): void;
  };
  return new Promise((resolve, reject) =>
    client.check({ service }, new Metadata(), { deadline: Date.now() + 5_000 }, (e, r) => {
      client.close();
      if (e) reject(e);
      else resolve(r.status);
    }),
  );
}
