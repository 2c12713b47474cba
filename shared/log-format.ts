/**
 * Log lines for people: pino's JSON records turned into one readable line each, for a terminal.
 *
 *   18:57:57.123 INFO  coordinator: local worker exited worker=local-0 code=0
 *
 * Machines (files, pipes, Kubernetes) keep the JSON lines; shared/log.ts picks.
 */

export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** Fields every record has, shown in the line's head rather than as key=value. */
const HEAD_FIELDS = new Set(['level', 'time', 'msg', 'component', 'pid', 'hostname']);

/** An error's message, as pino's err serializer writes errors; undefined for anything else. */
function errorMessage(v: unknown): string | undefined {
  return v !== null && typeof v === 'object' && typeof (v as { message?: unknown }).message === 'string' ? (v as { message: string }).message : undefined;
}

function value(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  // An error: its message (an error whose message is the line's own is left out); the stack stays in the JSON format.
  const message = errorMessage(v);
  if (message !== undefined) return JSON.stringify(message);
  return JSON.stringify(v) ?? String(v);
}

/** One pino record as a readable line (no newline); local time of day, to the millisecond. */
export function formatLogRecord(rec: Record<string, unknown>): string {
  const t = typeof rec.time === 'number' ? new Date(rec.time) : undefined;
  const clock = t ? `${t.toTimeString().slice(0, 8)}.${String(t.getMilliseconds()).padStart(3, '0')} ` : '';
  const level = (LEVELS[rec.level as number] ?? String(rec.level)).padEnd(5);
  const who = typeof rec.component === 'string' ? `${rec.component}: ` : '';
  const fields = Object.entries(rec)
    .filter(([k, v]) => !HEAD_FIELDS.has(k) && v !== undefined && !(k === 'err' && errorMessage(v) === rec.msg))
    .map(([k, v]) => `${k}=${value(v)}`);
  return `${clock}${level} ${who}${typeof rec.msg === 'string' ? rec.msg : ''}${fields.length > 0 ? ` ${fields.join(' ')}` : ''}`;
}

/** Whether a destination gets readable lines: asked for, or `auto` on a terminal. */
export function usesPrettyLines(format: LogFormat, destination: { isTTY?: boolean }): boolean {
  return format === 'pretty' || (format === 'auto' && destination.isTTY === true);
}

/** A pino destination that writes each JSON record to `out` as a readable line (a line that is not JSON passes through). */
export function prettyDestination(out: NodeJS.WritableStream): { write(chunk: string): boolean } {
  return {
    write(chunk: string): boolean {
      let text = chunk;
      try {
        text = `${formatLogRecord(JSON.parse(chunk) as Record<string, unknown>)}\n`;
      } catch {
        // Not a JSON record: written as it came.
      }
      return out.write(text);
    },
  };
}
