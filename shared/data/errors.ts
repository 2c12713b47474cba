/** Errors raised while loading, splitting or batching datasets. */
export class DataError extends Error {
  override name = 'DataError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A data file is unreadable or not in the format its source expects. */
export class DataFormatError extends DataError {
  override name = 'DataFormatError';
  constructor(
    readonly file: string,
    /** 1-based line (CSV), when the problem is on one. */
    readonly line: number | undefined,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}${line !== undefined ? `:${line}` : ''}: ${detail}`, options);
  }
}

/** A job names a dataset source nobody registered. */
export class UnknownSourceError extends DataError {
  override name = 'UnknownSourceError';
  constructor(
    readonly source: string,
    readonly known: readonly string[],
  ) {
    super(`unknown dataset source '${source}'; known sources: ${known.join(', ')}`);
  }
}

/** Split or shape settings that do not fit the data (more held out than there are samples...). */
export class DataConfigError extends DataError {
  override name = 'DataConfigError';
}
