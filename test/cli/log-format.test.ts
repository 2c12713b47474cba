/** Log lines: JSON for machines, one readable line per record on a terminal or when asked. */
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { createLogger } from '../../shared/log.js';
import { formatLogRecord } from '../../shared/log-format.js';

/** A destination that keeps what is written, posing as a terminal or not. */
function sink(isTTY: boolean) {
  const chunks: string[] = [];
  const w = new Writable({ write: (c, _e, done) => (chunks.push(String(c)), done()) }) as Writable & { isTTY?: boolean };
  w.isTTY = isTTY;
  return { w, text: () => chunks.join('') };
}

describe('log lines', () => {
  it('formats a record as time, level, component, message and its fields', () => {
    const time = new Date(2026, 11, 6, 18, 57, 57, 123).getTime();
    expect(formatLogRecord({ level: 30, time, component: 'coordinator', worker: 'local-0', pid: 17729, code: 0, signal: null, msg: 'local worker exited' }))
      .toBe('18:57:57.123 INFO  coordinator: local worker exited worker=local-0 code=0 signal=null');
    expect(formatLogRecord({ level: 50, time, component: 'worker', err: { type: 'Error', message: 'boom here', stack: 'Error: boom here\n    at x' }, reason: 'two words', msg: 'worker failed' }))
      .toBe('18:57:57.123 ERROR worker: worker failed err="boom here" reason="two words"');
    expect(formatLogRecord({ level: 40, time, component: 'coordinator', files: ['a', 'b'], msg: 'checkpoint' })).toBe('18:57:57.123 WARN  coordinator: checkpoint files=["a","b"]');
  });

  it('writes JSON lines to a pipe and readable lines to a terminal, unless told otherwise', () => {
    const cases: [string | undefined, boolean, 'json' | 'pretty'][] = [
      [undefined, false, 'json'],
      [undefined, true, 'pretty'],
      ['auto', true, 'pretty'],
      ['json', true, 'json'],
      ['pretty', false, 'pretty'],
    ];
    for (const [format, isTTY, expected] of cases) {
      const s = sink(isTTY);
      const env = { GRADFLEET_LOG_LEVEL: 'info', ...(format ? { GRADFLEET_LOG_FORMAT: format } : {}) };
      createLogger('coordinator', env, s.w).info({ step: 3 }, 'hello');
      const line = s.text();
      if (expected === 'json') expect(JSON.parse(line)).toMatchObject({ level: 30, component: 'coordinator', step: 3, msg: 'hello' });
      else expect(line).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  coordinator: hello step=3\n$/);
    }
  });

  it('refuses an unknown format, naming it', () => {
    expect(() => createLogger('x', { GRADFLEET_LOG_FORMAT: 'xml' }, sink(false).w)).toThrow('GRADFLEET_LOG_FORMAT=xml: expected one of auto, json, pretty');
    const bin = fileURLToPath(new URL('../../bin/coordinator.mjs', import.meta.url));
    const r = spawnSync(process.execPath, [bin, 'start', '--log-format', 'xml'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("option '--log-format <format>' argument 'xml' is invalid. Allowed choices are auto, json, pretty.");
  });

  it('makes a worker write readable lines with --log-format pretty', () => {
    const bin = fileURLToPath(new URL('../../bin/worker.mjs', import.meta.url));
    // Nothing listens on port 1: the worker gives up at once and says so in its last lines.
    const r = spawnSync(process.execPath, [bin, 'start', '--coordinator', '127.0.0.1:1', '--unreachable-timeout', '300', '--log-format', 'pretty'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    // The log records, then the command's last words as one plain sentence.
    const last = lines.pop();
    expect(last).toMatch(/^worker: coordinator at 127\.0\.0\.1:1 unreachable for [\d.]+s \(--unreachable-timeout 300 ms\); giving up$/);
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l).toMatch(/^\d\d:\d\d:\d\d\.\d{3} (INFO |WARN |ERROR) worker: /);
    // The error line does not repeat its message as err=…
    expect(lines.find((l) => l.includes(' ERROR '))).toMatch(/ERROR worker: coordinator at 127\.0\.0\.1:1 unreachable for [\d.]+s \(--unreachable-timeout 300 ms\); giving up$/);
  });
});
