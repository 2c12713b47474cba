/**
 * Which job a run directory belongs to: `job-identity.json` holds the job id and a fingerprint
 * of the job config, written when the directory is first used. A coordinator started again on
 * the directory keeps the job id (workers that reconnect keep their downloaded job and data)
 * and refuses a config whose fingerprint differs, naming the fields that differ.
 *
 * The fingerprint covers everything that changes what is computed. Settings that only change
 * how the cluster runs (leases, heartbeats, the no-workers warning, checkpoint cadence, the run
 * directory itself) are left out, so a job can be resumed with, say, a longer lease. Fields added
 * to the job file later are left out while they hold the default that gives what jobs computed
 * before the field existed, so run directories written before it still resume.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JobConfig } from '../job/schema.js';
import { CoordinatorError } from '../errors.js';
import { writeAtomic } from '../run/outputs.js';

export const IDENTITY_FILE = 'job-identity.json';

/** Config paths that do not change the computed parameters (dots separate levels). */
// workers.data (stream or local) changes how samples reach workers, not what is computed.
export const NOT_FINGERPRINTED = ['run_dir', 'checkpoint', 'workers.lease', 'workers.heartbeat', 'workers.wait_warning', 'workers.data'] as const;

/**
 * Fields added after run directories were written without them, and the default that computes
 * what those jobs computed. The loaded config always holds the default (the schema fills it in),
 * the identity of an older directory does not; leaving the field out of the fingerprint while it
 * holds that value makes "absent" and "default" the same config. Any other value is fingerprinted
 * (and named as a difference against an older directory: `ensemble.init: absent → "per_member"`).
 * A field that changes what is computed and gets a default must be listed here.
 */
export const FINGERPRINTED_UNLESS_DEFAULT: readonly { path: string; value: unknown }[] = [{ path: 'ensemble.init', value: 'shared' }];

export interface JobIdentity {
  job_id: string;
  /** SHA-256 of the canonical fingerprinted config. */
  fingerprint: string;
  name: string;
  created_at: string;
  /** The fingerprinted config itself, so that a mismatch can name the fields. */
  config: unknown;
}

/** A run directory that cannot be used for this job (another job's, or unreadable identity). */
export class RunDirectoryError extends CoordinatorError {
  override name = 'RunDirectoryError';
  constructor(
    readonly dir: string,
    message: string,
  ) {
    super(`run directory ${dir}: ${message}`);
  }
}

/** The config as fingerprinted: keys sorted at every level, run-only settings removed. */
export function canonicalConfig(job: JobConfig): unknown {
  const copy = JSON.parse(JSON.stringify(job)) as Record<string, unknown>;
  for (const path of NOT_FINGERPRINTED) removeField(copy, path);
  for (const { path, value } of FINGERPRINTED_UNLESS_DEFAULT) removeField(copy, path, (v) => JSON.stringify(v) === JSON.stringify(value));
  return sortKeys(copy);
}

/** Deletes the field at a dotted path, if its parent exists (and `when` accepts its value). */
function removeField(config: Record<string, unknown>, path: string, when: (value: unknown) => boolean = () => true): void {
  const parts = path.split('.');
  const key = parts[parts.length - 1]!;
  let node: Record<string, unknown> | undefined = config;
  for (const p of parts.slice(0, -1)) node = node?.[p] as Record<string, unknown> | undefined;
  if (typeof node === 'object' && node !== null && key in node && when(node[key])) delete node[key];
}

export function fingerprint(job: JobConfig): string {
  return createHash('sha256').update(JSON.stringify(canonicalConfig(job))).digest('hex');
}

/**
 * The identity `dir` holds for `job`, if any. Throws RunDirectoryError when the directory belongs
 * to another job config, and when it holds checkpoints without an identity (whose job they are
 * cannot be told). Reads only: the identity is written (writeIdentity) once the job has loaded,
 * so a job that fails to load does not claim the directory.
 */
export function readIdentity(dir: string, job: JobConfig, hasCheckpoints: () => boolean): JobIdentity | undefined {
  const path = join(dir, IDENTITY_FILE);
  if (!existsSync(path)) {
    if (hasCheckpoints()) throw new RunDirectoryError(dir, `it holds checkpoints but no ${IDENTITY_FILE}, so which job they belong to cannot be told; use another run directory`);
    return undefined;
  }
  let stored: JobIdentity;
  try {
    stored = JSON.parse(readFileSync(path, 'utf8')) as JobIdentity;
  } catch (e) {
    throw new RunDirectoryError(dir, `${IDENTITY_FILE} cannot be read (${(e as Error).message}); use another run directory`);
  }
  if (typeof stored.job_id !== 'string' || typeof stored.fingerprint !== 'string') throw new RunDirectoryError(dir, `${IDENTITY_FILE} has no job_id/fingerprint; use another run directory`);
  if (stored.fingerprint !== fingerprint(job)) {
    const diffs = configDifferences(stored.config, canonicalConfig(job));
    const shown = diffs.slice(0, 8).map((d) => `${d.path}: ${d.stored} → ${d.now}`);
    throw new RunDirectoryError(
      dir,
      `it belongs to job '${stored.job_id}' with a different config (${diffs.length} field${diffs.length === 1 ? '' : 's'} differ: ${shown.join('; ')}${diffs.length > shown.length ? '; …' : ''}); refusing to resume it with this job — use another run directory`,
    );
  }
  return stored;
}

/** Writes the identity of a new run directory (atomically) and returns it. */
export function writeIdentity(dir: string, job: JobConfig, jobId: string, now: Date = new Date()): JobIdentity {
  const identity: JobIdentity = { job_id: jobId, fingerprint: fingerprint(job), name: job.name, created_at: now.toISOString(), config: canonicalConfig(job) };
  writeAtomic(join(dir, IDENTITY_FILE), JSON.stringify(identity, null, 2) + '\n');
  return identity;
}

/** Leaf paths whose values differ between two canonical configs, with both values as JSON. */
export function configDifferences(stored: unknown, now: unknown, prefix = ''): { path: string; stored: string; now: string }[] {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObject(stored) && isObject(now)) {
    const keys = [...new Set([...Object.keys(stored), ...Object.keys(now)])].sort();
    return keys.flatMap((k) => configDifferences(stored[k], now[k], prefix ? `${prefix}.${k}` : k));
  }
  const a = JSON.stringify(stored) ?? 'absent';
  const b = JSON.stringify(now) ?? 'absent';
  return a === b ? [] : [{ path: prefix || '(config)', stored: a, now: b }];
}

/** `v` with the keys of every object sorted (the canonical form that is fingerprinted). */
export function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(
    Object.keys(v)
      .sort()
      .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
  );
}
