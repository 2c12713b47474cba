/**
 * Where files named by a job may lie (docs/security-inputs.md, "Paths").
 *
 * A job file (and, with `workers.data: local`, the data config a coordinator sends its workers)
 * names files: datasets, model specs, ONNX models, the run directory. None of them may reach a
 * file outside the directories meant for it:
 *
 *   - a relative path resolves against the base folder (the job file's folder; a worker's
 *     --data-root) and must stay in an allowed root: `..` that climbs out is refused;
 *   - an absolute path must lie under an allowed root;
 *   - the check is made on the real path (symlinks followed, for the part that exists), so a
 *     symlink inside a root that points out of it is refused too;
 *   - a NUL byte in a path is refused.
 *
 * The roots: on the coordinator the job file's folder, every `--allow-dir DIR` and
 * $GRADFLEET_ALLOWED_DIRS (a list separated by `:`), and /usr/share/datasets (Debian's dataset
 * packages). On a worker its --data-root, its own --allow-dir / $GRADFLEET_ALLOWED_DIRS and
 * /usr/share/datasets, never a folder the coordinator names.
 *
 * Errors (PathPolicyError) name the field, the path as written and where it led.
 */
import { realpathSync } from 'node:fs';
import { basename, delimiter, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { SecurityConfigError } from './errors.js';

/** The list of extra allowed directories in the environment (separated by `:`, path.delimiter). */
export const ALLOWED_DIRS_ENV = 'GRADFLEET_ALLOWED_DIRS';
/** Allowed everywhere unless a caller says otherwise: Debian's dataset packages (dataset-fashion-mnist…). */
export const DEFAULT_ALLOWED_DIRS: readonly string[] = ['/usr/share/datasets'];

/** A path named by a job that lies outside the directories it may use. */
export class PathPolicyError extends SecurityConfigError {
  override name = 'PathPolicyError';
  constructor(
    /** The field that named it (`data.train_images`, `model.onnx`, `run_dir`…). */
    readonly field: string,
    /** The path as written. */
    readonly path: string,
    problem: string,
  ) {
    super(`${field}: '${path}' ${problem}`);
  }
}

/** Where relative paths resolve and which folders they (and absolute ones) may reach. */
export interface PathPolicy {
  /** Relative paths resolve against this folder. */
  base: string;
  /** Every accepted path lies under one of these (the base is one only when listed). */
  roots: readonly string[];
  /** How to widen the roots, for error messages (e.g. "pass --allow-dir DIR or set GRADFLEET_ALLOWED_DIRS"). */
  hint?: string;
}

/** The directories $GRADFLEET_ALLOWED_DIRS lists (empty entries skipped). */
export function allowedDirsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env[ALLOWED_DIRS_ENV] ?? '').split(delimiter).filter((d) => d.trim() !== '');
}

/**
 * The coordinator's policy for the paths of a job file in `baseDir`: the job's folder, the
 * --allow-dir folders, $GRADFLEET_ALLOWED_DIRS and the defaults.
 */
export function jobPathPolicy(baseDir: string, allowDirs: readonly string[] = [], env: NodeJS.ProcessEnv = process.env): PathPolicy {
  return {
    base: resolve(baseDir),
    roots: unique([resolve(baseDir), ...[...allowDirs, ...allowedDirsFromEnv(env), ...DEFAULT_ALLOWED_DIRS].map((d) => resolve(d))]),
    hint: `pass --allow-dir DIR (or set ${ALLOWED_DIRS_ENV}) to allow another folder`,
  };
}

/**
 * A worker's policy for the data config its coordinator sent: relative paths against its
 * --data-root (else the coordinator's folder, which is then NOT an allowed root by itself), and
 * only the worker's own roots: --data-root, its --allow-dir folders, $GRADFLEET_ALLOWED_DIRS and
 * the defaults.
 */
export function workerDataPolicy(dataRoot: string | undefined, coordinatorBaseDir: string, allowDirs: readonly string[] = [], env: NodeJS.ProcessEnv = process.env): PathPolicy {
  const roots = [...(dataRoot === undefined ? [] : [dataRoot]), ...allowDirs, ...allowedDirsFromEnv(env), ...DEFAULT_ALLOWED_DIRS].map((d) => resolve(d));
  return {
    base: dataRoot === undefined ? coordinatorBaseDir : resolve(dataRoot),
    roots: unique(roots),
    hint:
      dataRoot === undefined
        ? `a worker reads only under its own data roots, never where the coordinator says: start it with --data-root DIR (the shared volume) or --allow-dir DIR / ${ALLOWED_DIRS_ENV}`
        : `a worker reads only under its --data-root (or --allow-dir DIR / ${ALLOWED_DIRS_ENV})`,
  };
}

/**
 * The absolute path `p` names under `policy`, or a PathPolicyError naming `field` when it leads
 * outside every root (by `..`, as an absolute path, or through a symlink).
 */
export function confinePath(field: string, p: string, policy: PathPolicy): string {
  if (p.includes('\0')) throw new PathPolicyError(field, p.replace(/\0/g, '\\0'), 'contains a NUL byte');
  const abs = resolve(policy.base, p);
  const real = realPathOf(abs);
  const roots = policy.roots.map((r) => ({ root: r, real: realPathOf(r) }));
  if (roots.some((r) => within(real, r.real))) return abs;
  const where = `the allowed directories (${policy.roots.join(', ') || 'none'})${policy.hint ? `; ${policy.hint}` : ''}`;
  const lexicallyInside = roots.some((r) => within(abs, r.root) || within(abs, r.real));
  if (lexicallyInside) throw new PathPolicyError(field, p, `resolves through a symbolic link to ${real}, outside ${where}`);
  if (!isAbsolute(p) && !within(abs, resolve(policy.base))) throw new PathPolicyError(field, p, `climbs out of ${policy.base} (to ${abs}), outside ${where}`);
  throw new PathPolicyError(field, p, `is outside ${where}`);
}

/** Whether `path` is `dir` or lies below it (both absolute and normalised). */
export function within(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/**
 * The real path of `abs`: symlinks resolved for the longest prefix that exists, the rest
 * appended as written (a file that does not exist yet: its folder decides).
 */
export function realPathOf(abs: string): string {
  const missing: string[] = [];
  let at = abs;
  for (;;) {
    try {
      return join(realpathSync(at), ...missing.reverse());
    } catch {
      const up = dirname(at);
      if (up === at) return abs;
      missing.push(basename(at));
      at = up;
    }
  }
}

function unique(dirs: string[]): string[] {
  return [...new Set(dirs)];
}
