/**
 * How the `gradfleet` command reports failures: one line on stderr (no stack trace) and an exit
 * code a script can branch on.
 */
import { UnsupportedOpError } from '../autodiff/errors.js';

/** Exit codes of the gradfleet command. Commander's own usage errors exit with 1. */
export const EXIT = {
  ok: 0,
  /** Anything that went wrong: unreadable file, bad option value, a model that cannot compile. */
  failed: 2,
  /** The model uses an op without a gradient rule (the message names it, its node and the supported list). */
  unsupportedOp: 3,
} as const;

/** A command line that does not make sense (conflicting or missing arguments). */
export class CliUsageError extends Error {
  override name = 'CliUsageError';
}

export function exitCodeFor(e: unknown): number {
  return e instanceof UnsupportedOpError ? EXIT.unsupportedOp : EXIT.failed;
}

/** The one line printed for an error: its message, without a stack. */
export function errorLine(e: unknown): string {
  return `gradfleet: ${e instanceof Error ? e.message : String(e)}`;
}
