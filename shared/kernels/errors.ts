/** Errors of the step kernels and their arenas. */

/** A kernel was called on vectors that do not fit it, or an arena ran out of room. */
export class KernelError extends Error {
  override name = 'KernelError';
}
