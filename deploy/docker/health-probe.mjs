#!/usr/bin/env node
/**
 * A gRPC health probe (grpc.health.v1.Health/Check), for where Kubernetes' built-in `grpc:` probe
 * is not available: Docker HEALTHCHECK, docker compose, older clusters, and a TLS coordinator
 * (the built-in probe speaks plaintext only; deploy/k8s/overlays/secure runs this one instead).
 *
 *   node deploy/docker/health-probe.mjs [host:port] [service]
 *        [--tls-ca FILE [--tls-cert FILE --tls-key FILE]] [--server-name NAME]
 *
 * Defaults: 127.0.0.1:7070, the empty service name (the server as a whole, which is what a
 * Kubernetes grpc probe asks for) and plaintext. With --tls-ca (or $GRADFLEET_PROBE_TLS_CA) it
 * connects over TLS and verifies the server against that CA; with --tls-cert/--tls-key
 * ($GRADFLEET_PROBE_TLS_CERT, $GRADFLEET_PROBE_TLS_KEY) it presents a client certificate, which
 * a mutual-TLS coordinator requires. --server-name checks the certificate for that name instead
 * of the host (default: the host; `gradfleet certs` always puts 127.0.0.1 and localhost in the
 * server certificate). Health checks need no join token. Exits 0 when the answer is SERVING, 1
 * otherwise (or for an unusable flag), and prints one line saying which. Plain JavaScript so
 * that it starts fast (no tsx).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const grpc = require('@grpc/grpc-js');
const { service: healthService } = require('grpc-health-check');

const positional = [];
const flags = { tlsCa: process.env.GRADFLEET_PROBE_TLS_CA, tlsCert: process.env.GRADFLEET_PROBE_TLS_CERT, tlsKey: process.env.GRADFLEET_PROBE_TLS_KEY, serverName: undefined };
const FLAG_NAMES = { '--tls-ca': 'tlsCa', '--tls-cert': 'tlsCert', '--tls-key': 'tlsKey', '--server-name': 'serverName' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const [name, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
  if (name in FLAG_NAMES) {
    const value = inline ?? argv[++i];
    if (value === undefined || value === '') fail(`${name} needs a value`);
    flags[FLAG_NAMES[name]] = value;
  } else if (a.startsWith('--')) fail(`unknown flag ${a} (known: ${Object.keys(FLAG_NAMES).join(', ')})`);
  else positional.push(a);
}

const address = positional[0] ?? '127.0.0.1:7070';
const serviceName = positional[1] ?? '';
const timeoutMs = Number(process.env.GRADFLEET_PROBE_TIMEOUT_MS ?? 2000);

function fail(message) {
  console.log(`health-probe: ${message}`);
  process.exit(1);
}

function read(flag, file) {
  try {
    return readFileSync(file);
  } catch (e) {
    return fail(`${flag} ${file}: cannot read the file (${e.code ?? e.message})`);
  }
}

function channelCredentials() {
  if (!flags.tlsCa && !flags.tlsCert && !flags.tlsKey) return { creds: grpc.credentials.createInsecure(), options: {}, mode: 'plaintext' };
  if (!flags.tlsCa) fail('--tls-cert/--tls-key need --tls-ca (the CA that signed the server certificate)');
  if (Boolean(flags.tlsCert) !== Boolean(flags.tlsKey)) fail('--tls-cert and --tls-key go together');
  const creds = grpc.credentials.createSsl(read('--tls-ca', flags.tlsCa), flags.tlsKey ? read('--tls-key', flags.tlsKey) : null, flags.tlsCert ? read('--tls-cert', flags.tlsCert) : null);
  const options = flags.serverName ? { 'grpc.ssl_target_name_override': flags.serverName, 'grpc.default_authority': flags.serverName } : {};
  return { creds, options, mode: flags.tlsCert ? 'mtls' : 'tls' };
}

const { creds, options, mode } = channelCredentials();
const HealthClient = grpc.makeClientConstructor(healthService, 'grpc.health.v1.Health');
const client = new HealthClient(address, creds, options);

client.Check({ service: serviceName }, { deadline: Date.now() + timeoutMs }, (err, reply) => {
  client.close();
  const target = `${address}${serviceName ? ` service=${serviceName}` : ''}${mode === 'plaintext' ? '' : ` (${mode})`}`;
  if (err) {
    console.log(`health-probe: ${target}: ${grpc.status[err.code] ?? err.code}: ${err.details || err.message}`);
    process.exit(1);
  }
  console.log(`health-probe: ${target}: ${reply.status}`);
  process.exit(reply.status === 'SERVING' ? 0 : 1);
});
