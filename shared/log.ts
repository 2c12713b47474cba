/**
 * Logging: pino JSON lines for machines; child loggers carry {component, workerId, step}.
 * GRADFLEET_LOG_LEVEL sets the level (default info; tests use warn).
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(component: string, env: NodeJS.ProcessEnv = process.env, destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino({ level: env.GRADFLEET_LOG_LEVEL ?? 'info', base: { component } }, destination as pino.DestinationStream);
}
