/** Errors raised while planning or applying data augmentation. */

/**
 * An augmentation setting that does not fit the data (an image shape that is not the samples'),
 * or a batch that does not fit the plan. `field` is the job-file field to fix, e.g.
 * `augment.image_shape`, and the message starts with it.
 */
export class AugmentError extends Error {
  override name = 'AugmentError';
  constructor(
    readonly field: string,
    readonly detail: string,
  ) {
    super(`${field}: ${detail}`);
  }
}
