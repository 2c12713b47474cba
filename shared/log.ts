/**
 * Logging: pino records; child loggers carry {component, workerId, step}. JSON lines for machines,
 * readable lines on a terminal (shared/log-format.ts): GRADFLEET_LOG_FORMAT = auto (the default:
 * readable when the destination is a TTY) | json | pretty, set by the CLIs' --log-format so that
 * the worker processes a coordinator starts write the same way. GRADFLEET_LOG_LEVEL sets the
 * level (default info; tests use warn).
 */
import { pino, type Logger } from 'pino';
import { LOG_FORMATS, prettyDestination, usesPrettyLines, type LogFormat } from './log-format.js';

export type { Logger };
export { LOG_FORMATS, type LogFormat };

/** The environment variable the CLIs' --log-format sets, for this process and the ones it starts. */
export const LOG_FORMAT_ENV = 'GRADFLEET_LOG_FORMAT';

/** The format asked for in the environment; an unknown value is an error naming it. */
export function logFormatFrom(env: NodeJS.ProcessEnv): LogFormat {
  const f = env[LOG_FORMAT_ENV] ?? 'auto';
  if (!(LOG_FORMATS as readonly string[]).includes(f)) throw new Error(`${LOG_FORMAT_ENV}=${f}: expected one of ${LOG_FORMATS.join(', ')}`);
  return f as LogFormat;
}

export function createLogger(component: string, env: NodeJS.ProcessEnv = process.env, destination: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr): Logger {
  const out = usesPrettyLines(logFormatFrom(env), destination) ? prettyDestination(destination) : destination;
  return pino({ level: env.GRADFLEET_LOG_LEVEL ?? 'info', base: { component } }, out as pino.DestinationStream);
}
