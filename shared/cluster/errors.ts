/** Errors of the cluster wire format (tensor streams, job metadata), shared by coordinator and worker. */

export class WireError extends Error {
  override name = 'WireError';
}

/**
 * A tensor stream that does not match what the receiver expects: wrong number of tensors, a
 * tensor of the wrong length, chunks out of order, an unknown codec or a chunk whose byte length
 * disagrees with its element count. The message names the tensor and the expected vs. got sizes.
 */
export class TensorStreamError extends WireError {
  override name = 'TensorStreamError';
  constructor(
    message: string,
    /** Name of the tensor at fault, when one is. */
    readonly tensor?: string,
  ) {
    super(message);
  }
}

/** Job metadata that a worker cannot use (missing fields, a graph that does not decode). */
export class JobMetadataError extends WireError {
  override name = 'JobMetadataError';
}
