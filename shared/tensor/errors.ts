/** Errors of the tensor byte formats (views, codecs, chunks). */

/** Base of every tensor-format error. */
export class TensorError extends Error {
  override name = 'TensorError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Bytes that cannot hold what they are said to hold (length not a multiple of the element size, chunk out of range). */
export class TensorFormatError extends TensorError {
  override name = 'TensorFormatError';
}

/** A codec name not in the registry. */
export class UnknownCodecError extends TensorError {
  override name = 'UnknownCodecError';
  constructor(
    readonly codec: string,
    readonly supported: readonly string[],
  ) {
    super(`unknown tensor codec '${codec}': expected one of ${supported.join(', ')}`);
  }
}
