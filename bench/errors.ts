/** Errors of the benchmark runner. */

/** A bench command line names a section that does not exist. */
export class UnknownSectionError extends Error {
  override name = 'UnknownSectionError';
  constructor(
    readonly unknown: readonly string[],
    readonly known: readonly string[],
  ) {
    super(`unknown bench section(s) ${unknown.join(', ')}; sections: ${known.join(', ')}`);
  }
}
