/** Durations in config files read as '250ms', '30s', '5m', '1h' (or a number of milliseconds). */
import { z } from 'zod';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDuration(v: string | number): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(v.trim());
  if (!m) throw new Error(`'${v}' is not a duration (use e.g. '500ms', '30s', '5m')`);
  return Math.round(Number(m[1]) * UNITS[m[2]!]!);
}

/** A zod field accepting '30s'-style strings or milliseconds, giving milliseconds. */
export const duration = z.union([z.number().int().positive(), z.string().regex(/^\d+(\.\d+)?(ms|s|m|h)$/, { error: "must be a duration like '500ms', '30s' or '5m'" })]).transform((v) => parseDuration(v));
