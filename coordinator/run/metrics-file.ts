/**
 * Reading metrics.jsonl back, and rewinding it to what a run had written when one of its
 * checkpoints was taken.
 *
 * Lines are appended one write at a time, so a coordinator killed mid-write can leave a torn last
 * line (no newline, not JSON). Reading skips lines that are not JSON objects and counts them;
 * rewinding drops them. A rewind replaces the file atomically (writeAtomic: temp file, fsync,
 * rename), so a second crash during it leaves either the old file or the new one.
 */
import { readFileSync } from 'node:fs';
import { writeAtomic } from './outputs.js';

/** One parsed line, with its original text (rewritten byte for byte when it is kept). */
export interface MetricLine {
  record: Record<string, unknown>;
  text: string;
}

export interface MetricsFileContents {
  lines: MetricLine[];
  /** Lines that are not a JSON object (a torn last line after a SIGKILL). */
  unreadable: number;
  /** Whether the file lacks its final newline (a torn write). */
  torn: boolean;
}

/** The lines of a metrics file; a missing file reads as empty. */
export function readMetricsFile(path: string): MetricsFileContents {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { lines: [], unreadable: 0, torn: false };
    throw e;
  }
  const lines: MetricLine[] = [];
  let unreadable = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const record = parseObject(line);
    if (record) lines.push({ record, text: line });
    else unreadable++;
  }
  return { lines, unreadable, torn: text.length > 0 && !text.endsWith('\n') };
}

function parseObject(line: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export interface RewindResult {
  /** The records left in the file, in order. */
  kept: Record<string, unknown>[];
  /** Records removed because `keep` said so. */
  dropped: number;
  /** Lines removed because they were not JSON (torn). */
  unreadable: number;
}

/**
 * Keeps the records `keep` accepts, in order, and drops the rest and any unreadable line. The file
 * is rewritten (atomically) only when something goes; a missing file stays missing.
 */
export function rewindMetricsFile(path: string, keep: (record: Record<string, unknown>) => boolean): RewindResult {
  const file = readMetricsFile(path);
  const kept = file.lines.filter((l) => keep(l.record));
  const dropped = file.lines.length - kept.length;
  if (dropped > 0 || file.unreadable > 0 || file.torn) writeAtomic(path, kept.map((l) => l.text + '\n').join(''));
  return { kept: kept.map((l) => l.record), dropped, unreadable: file.unreadable };
}
