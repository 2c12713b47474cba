#!/usr/bin/env node
/**
 * A gRPC health probe (grpc.health.v1.Health/Check), for where Kubernetes' built-in `grpc:` probe
 * is not available: Docker HEALTHCHECK, docker compose, older clusters.
 *
 *   node deploy/docker/health-probe.mjs [host:port] [service]
 *
 * Defaults: 127.0.0.1:7070 and the empty service name (the server as a whole, which is what a
 * Kubernetes grpc probe asks for). Exits 0 when the answer is SERVING, 1 otherwise, and prints
 * one line saying which. Plain JavaScript so that it starts fast (no tsx).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const grpc = require('@grpc/grpc-js');
const { service: healthService } = require('grpc-health-check');

const address = process.argv[2] ?? '127.0.0.1:7070';
const serviceName = process.argv[3] ?? '';
const timeoutMs = Number(process.env.GRADFLEET_PROBE_TIMEOUT_MS ?? 2000);

const HealthClient = grpc.makeClientConstructor(healthService, 'grpc.health.v1.Health');
const client = new HealthClient(address, grpc.credentials.createInsecure());

client.Check({ service: serviceName }, { deadline: Date.now() + timeoutMs }, (err, reply) => {
  client.close();
  const target = `${address}${serviceName ? ` service=${serviceName}` : ''}`;
  if (err) {
    console.log(`health-probe: ${target}: ${grpc.status[err.code] ?? err.code}: ${err.details || err.message}`);
    process.exit(1);
  }
  console.log(`health-probe: ${target}: ${reply.status}`);
  process.exit(reply.status === 'SERVING' ? 0 : 1);
});
