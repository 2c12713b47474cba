/**
 * `gradfleet certs --out DIR [--host NAME]... [--days N]`: a private CA, a server certificate for
 * the coordinator (and relays) and a client certificate for workers, plus a random join token
 * (shared/security/certificates.ts). Keys and the token are written with mode 0600.
 *
 *   gradfleet certs --out certs --host gradfleet-coordinator --host coordinator.example.org
 *   coordinator start --tls-cert certs/server.crt --tls-key certs/server.key --tls-ca certs/ca.crt --token-file certs/join-token
 *   worker start --coordinator coordinator.example.org:7070 --tls-ca certs/ca.crt --tls-cert certs/worker.crt --tls-key certs/worker.key --token-file certs/join-token
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from '@commander-js/extra-typings';
import { integerOption } from './train.js';
import { CliUsageError } from './errors.js';

const collect = (v: string, all: string[]): string[] => [...all, v];

export function registerCertsCommand(program: Command): void {
  program
    .command('certs')
    .description('create a CA, a coordinator (server) certificate, a worker (client) certificate and a join token for mutual TLS')
    .requiredOption('--out <dir>', 'folder to write ca.crt, ca.key, server.crt, server.key, worker.crt, worker.key and join-token into (created if needed)')
    .option('--host <name>', "a name or IP address workers use to reach the coordinator (repeatable); 127.0.0.1, ::1 and localhost are always included", collect, [] as string[])
    .option('--days <n>', 'validity in days', integerOption('--days', 1), 365)
    .option('--force', 'overwrite certificates already in --out')
    .action(async (opts) => {
      const out = resolve(opts.out);
      if (!opts.force && existsSync(join(out, 'ca.key'))) throw new CliUsageError(`${join(out, 'ca.key')} exists already; pass --force to replace the whole set (every certificate signed by the old CA stops being accepted)`);
      // Loaded here: @peculiar/x509 is only needed by this command.
      const { createCertificateSet, serverNames, writeCertificateSet } = await import('../security/certificates.js');
      const set = await createCertificateSet({ hosts: opts.host, days: opts.days });
      const files = writeCertificateSet(out, set);
      process.stdout.write(`wrote ${files.length} files to ${out} (valid ${opts.days} days; server names: ${serverNames(opts.host).join(', ')})\n`);
      for (const f of files) process.stdout.write(`  ${f}\n`);
    });
}
